# exit: 2
# stderr: argument --scale: expected a finite number > 0
run {minimal} --scale -1
