# exit: 2
# stderr: kpis.parquet does not belong to the run recorded in run.json
# stderr: mixes files of two runs
report {results_mixed}
