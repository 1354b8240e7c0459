# exit: 2
# stderr: cannot read it as Parquet
calibrate {inputs}/cal.yaml --history {truncated_parquet} --out {tmp}/cal --quiet
