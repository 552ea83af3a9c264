model toy2d
samples -5
sample s = ring AND bar
