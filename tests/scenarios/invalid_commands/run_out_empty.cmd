# exit: 2
# stderr: argument --out: expected a folder path, got an empty one
run {minimal} --out ''
