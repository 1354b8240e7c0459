# exit: 2
# stderr: nowhere.csv: no such file
calibrate {inputs}/cal.yaml --history {tmp}/nowhere.csv --out {tmp}/cal --quiet
