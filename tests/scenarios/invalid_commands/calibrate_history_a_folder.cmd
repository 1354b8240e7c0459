# exit: 2
# stderr: is a folder; expected a history CSV
calibrate {inputs}/cal.yaml --history {folder_csv} --out {tmp}/cal --quiet
