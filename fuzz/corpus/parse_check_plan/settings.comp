# One file, several settings side by side: `with` overrides settings for one sample.
model toy2d
base none
samples 1000
seed 7

sample ddpm_default = ring AND bar
sample ddim_fast = ring AND bar with sampler ddim(steps: 25, eta: 0)
sample other_seed = ring AND bar with seed 8
sample sharper = ring AND bar with scale 2
