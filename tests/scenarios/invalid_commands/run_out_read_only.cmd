# exit: 2
# stderr: cannot
run {minimal} --quiet --out {readonly}/results
