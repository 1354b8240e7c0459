# exit: 2
# stderr: argument --reps: expected a whole number from 1
bench {minimal} --baseline {tmp}/b.json --reps 0
