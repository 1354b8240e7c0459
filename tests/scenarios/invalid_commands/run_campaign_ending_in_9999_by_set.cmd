# exit: 2
# stderr: 69,891,096 ticks
# stderr: --force
run {minimal} --quiet --set meta.end=9999-12-31T00:00
