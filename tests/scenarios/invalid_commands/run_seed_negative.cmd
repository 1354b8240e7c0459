# exit: 2
# stderr: argument --seed: expected a whole number from 0
run {minimal} --seed -1
