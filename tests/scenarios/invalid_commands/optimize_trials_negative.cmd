# exit: 2
# stderr: argument --trials: expected a whole number from 1
optimize {inputs}/opt.yaml --trials -3
