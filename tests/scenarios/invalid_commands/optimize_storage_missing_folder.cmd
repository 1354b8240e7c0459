# exit: 2
# stderr: nowhere does not exist
optimize {inputs}/opt.yaml --storage sqlite:///{tmp}/nowhere/study.db --out {tmp}/o --quiet
