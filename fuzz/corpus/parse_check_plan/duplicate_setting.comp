model toy2d
scale 2
scale 3
sample s = ring AND bar
