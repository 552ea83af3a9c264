model toy2d
sample s = ring bar
