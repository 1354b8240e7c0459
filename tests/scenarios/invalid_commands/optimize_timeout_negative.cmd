# exit: 2
# stderr: argument --timeout: expected a finite number > 0
optimize {inputs}/opt.yaml --timeout -5
