# exit: 0
# stdout: 95 % interval
# not stdout: %%
calibrate --help
