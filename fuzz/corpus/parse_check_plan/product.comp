# The 8-Gaussian ring times a vertical bar: RRR's product of experts.
# Only the two ring modes inside the bar survive, at (0, 0.5) and (0, -0.5).
model toy2d
sampler ddpm(steps: 100)
base none  # a pure product: no unconditional term
scale 1
seed 0
samples 2000

let stripe = bar
sample product = ring AND stripe
