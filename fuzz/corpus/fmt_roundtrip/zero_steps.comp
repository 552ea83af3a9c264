model toy2d
sampler ddpm(steps: 0)
sample s = ring AND bar
