# exit: 2
# stderr: --out /dev/null: is a device
run {minimal} --quiet --out /dev/null
