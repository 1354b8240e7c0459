# exit: 2
# stderr: argument --scale: expected a finite number > 0 and ≤ 1e+06, got 'nan'
run {minimal} --scale nan
