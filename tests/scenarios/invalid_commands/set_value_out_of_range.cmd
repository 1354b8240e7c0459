# exit: 2
# stderr: --set 'skus.lipstick.stock=1e26': skus.lipstick.stock: expected a whole number from 0 to 10¹² (units), got 1e+26
run {minimal} --quiet --set skus.lipstick.stock=1e26
