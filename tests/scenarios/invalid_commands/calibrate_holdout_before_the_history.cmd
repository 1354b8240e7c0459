# exit: 2
# stderr: holdout 2020-01-01: no period with data before it to train on
calibrate {inputs}/cal.yaml --holdout 2020-01-01 --out {tmp}/cal --no-plots --quiet
