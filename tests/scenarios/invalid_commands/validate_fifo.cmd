# exit: 2
# stderr: is a named pipe (FIFO), not a regular file
validate {fifo}
