# exit: 2
# stderr: is a folder; expected a scenario YAML file
validate {tmp}
