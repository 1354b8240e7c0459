# exit: 2
# stderr: --storage 'garbage://nowhere': unknown database kind 'garbage'
optimize {inputs}/opt.yaml --storage garbage://nowhere --out {tmp}/o --quiet
