# exit: 2
# stderr: holdout 0.99 leaves no training period
calibrate {inputs}/cal.yaml --holdout 0.99 --out {tmp}/cal --no-plots --quiet
