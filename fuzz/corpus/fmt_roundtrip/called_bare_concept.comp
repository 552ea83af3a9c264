model toy2d
sample s = ring(0.5) AND bar
