# exit: 2
# stderr: the folder /proc/promosim-x does not exist
optimize {inputs}/opt.yaml --storage sqlite:////proc/promosim-x/study.db --out {tmp}/o --quiet
