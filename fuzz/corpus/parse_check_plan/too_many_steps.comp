# toy2d has a 100-step schedule: it can be respaced to fewer steps, not more.
model toy2d
sampler ddim(steps: 250)
sample s = ring AND bar
