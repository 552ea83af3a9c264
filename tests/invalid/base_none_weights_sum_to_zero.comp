# base none (toy2d's default): 1 - 1 = 0, there is no density to sample
model toy2d
sample s = ring AND NOT bar
