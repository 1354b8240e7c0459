# exit: 2
# stderr: cannot write in
optimize {inputs}/opt.yaml --storage sqlite:///{readonly}/study.db --out {tmp}/o --quiet
