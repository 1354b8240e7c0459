# exit: 2
# stderr: argument --workers: expected a whole number from 1 to 256
run {minimal} --workers 0
