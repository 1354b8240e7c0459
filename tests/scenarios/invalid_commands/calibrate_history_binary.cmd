# exit: 2
# stderr: binary.csv:1: a NUL byte (binary data)
calibrate {inputs}/cal.yaml --history {bad_history}/binary.csv --out {tmp}/cal --quiet
