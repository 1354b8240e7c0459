# exit: 2
# stderr: latin1_text.yaml:3: byte 0xe9 at column 12 is not UTF-8
# stdout: valid_minimal.yaml: ok
validate {invalid}/latin1_text.yaml {minimal}
