# exit: 2
# stderr: argument --level: expected a finite number > 0 and < 1
compare {minimal} --set skus.*.discount=0.2 --level 1
