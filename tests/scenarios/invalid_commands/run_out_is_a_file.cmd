# exit: 2
# stderr: is a file; expected a folder for the results
run {minimal} --quiet --out {file}
