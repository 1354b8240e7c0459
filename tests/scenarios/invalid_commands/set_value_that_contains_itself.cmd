# exit: 2
# stderr: --set 'skus.*.discount=&a [x, *a]': a YAML alias (*name) refers to a block that holds it
run {minimal} --quiet --set "skus.*.discount=&a [x, *a]"
