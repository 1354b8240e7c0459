# exit: 2
# stderr: --set 'skus.*.discont=0.5': skus.lipstick.discont: unknown field 'discont'; did you mean 'discount'?
run {minimal} --quiet --set skus.*.discont=0.5
