# exit: 2
# stderr: kpis.parquet: cannot read it as Parquet
report {results_truncated}
