# exit: 2
# stderr: is a file, not a folder
optimize {inputs}/opt.yaml --out {file} --quiet
