# exit: 2
# stderr: argument --reps: expected a whole number from 1
run {minimal} --reps -1
