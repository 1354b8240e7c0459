# exit: 2
# stderr: is a file; expected a folder
calibrate {inputs}/cal.yaml --out {file} --quiet
