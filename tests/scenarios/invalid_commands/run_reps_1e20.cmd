# exit: 2
# stderr: argument --reps: expected a whole number from 1 to 1,000,000, got '1e20'
run {minimal} --reps 1e20
