# exit: 2
# stderr: summary.json: missing
report {tmp}
