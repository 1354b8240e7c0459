# exit: 2
# stderr: --set 'skus.*.discont=0.5': skus.*.discont: unknown field 'discont'; did you mean 'discount'? (for all 2 matches of *: lipstick, serum)
run {minimal} --quiet --set skus.*.discont=0.5
