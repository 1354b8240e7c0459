# exit: 2
# stderr: busiest tick orders about
run {minimal} --quiet --reps 1 --scale 1000000
