# exit: 2
# stderr: this run would need more memory than the limit
# stderr: 69,891,096 ticks
# stderr: --force
run {inputs}/end_far_future.yaml --quiet
