# exit: 2
# stderr: cannot
optimize {inputs}/opt.yaml --out {readonly}/o --quiet
