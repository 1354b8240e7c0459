# exit: 2
# stderr: is a file, not a folder
run {minimal} --quiet --out {file}/results
