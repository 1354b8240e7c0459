# exit: 2
# stderr: --out /proc/promosim-x/results: cannot create /proc/promosim-x
run {minimal} --quiet --out /proc/promosim-x/results
