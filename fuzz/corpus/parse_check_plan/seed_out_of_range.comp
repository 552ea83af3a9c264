model toy2d
seed 1e20
sample s = ring AND bar
