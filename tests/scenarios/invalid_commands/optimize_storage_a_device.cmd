# exit: 2
# stderr: /dev/null is a device, not a regular file
optimize {inputs}/opt.yaml --storage sqlite:////dev/null --out {tmp}/o --quiet
