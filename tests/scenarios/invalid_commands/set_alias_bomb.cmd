# exit: 2
# stderr: more than 1,000,000 values once YAML aliases
run {minimal} --quiet --set {alias_bomb_set}
