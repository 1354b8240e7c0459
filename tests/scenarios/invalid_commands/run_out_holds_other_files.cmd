# exit: 2
# stderr: holds files promosim did not write here (notes.txt)
run {minimal} --quiet --out {folder_with_notes}
