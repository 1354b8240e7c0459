# exit: 2
# stderr: an in-memory SQLite database lives in one connection
optimize {inputs}/opt.yaml --storage sqlite:// --out {tmp}/o --quiet
