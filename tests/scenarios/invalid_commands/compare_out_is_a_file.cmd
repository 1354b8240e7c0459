# exit: 2
# stderr: is a file; expected a folder
compare {minimal} --set skus.*.discount=0.2 --reps 2 --quiet --out {file}
