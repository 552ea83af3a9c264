model toy2d
base null
scale 20
sample s = ring AND bar
