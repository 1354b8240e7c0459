# exit: 2
# stderr: argument --heartbeat: expected a whole number of seconds from 1 to 3,600
optimize {inputs}/opt.yaml --heartbeat 0
