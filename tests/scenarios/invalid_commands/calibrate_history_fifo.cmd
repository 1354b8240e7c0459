# exit: 2
# stderr: is a named pipe (FIFO), not a regular file
calibrate {inputs}/cal.yaml --history {fifo_csv} --out {tmp}/cal --quiet
