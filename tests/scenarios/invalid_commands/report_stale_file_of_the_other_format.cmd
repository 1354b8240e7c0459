# exit: 0
# stderr: warning:
# stderr: kpis.csv is not part of the run recorded in run.json
report {results_stale}
