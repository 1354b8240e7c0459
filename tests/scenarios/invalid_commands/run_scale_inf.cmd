# exit: 2
# stderr: argument --scale: expected a finite number
run {minimal} --scale inf
