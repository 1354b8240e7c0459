# exit: 2
# stderr: the SKU catalogue '/dev/zero' is a device
validate {inputs}/catalogue_dev_zero.yaml
