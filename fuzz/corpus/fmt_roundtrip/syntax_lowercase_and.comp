model toy2d
sample s = ring and bar
