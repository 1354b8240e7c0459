# exit: 2
# stderr: /dev/zero: is a device, not a regular file; expected a scenario YAML file
validate /dev/zero
