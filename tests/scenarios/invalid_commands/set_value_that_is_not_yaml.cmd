# exit: 2
# stderr: --set 'skus.*.discount=[0.1,': the value is not valid YAML
run {minimal} --quiet --set skus.*.discount=[0.1,
