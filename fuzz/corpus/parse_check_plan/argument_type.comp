model toy2d
sampler ddim(steps: "fifty")
sample s = ring AND bar
