# exit: 0
run {inputs}/reorder_lot_of_one.yaml --quiet --reps 1 --json
