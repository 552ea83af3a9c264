model toy2d
sample s = ring
sample s = bar
