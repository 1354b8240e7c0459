# exit: 2
# stderr: --set 'skus.lipstick.stock': expected path=value
run {minimal} --quiet --set skus.lipstick.stock
