model toy2d
sampler ddpm(10, 20)
sample s = ring AND bar
