model toy2d
scale 1e400
sample s = ring AND bar
