model toy2d
sampler ddim(steps: 50, eta: 2)
sample s = ring AND bar
