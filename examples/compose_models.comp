# Two separately built models in one expression: the exact toy2d and the learned MLP.
# Each term comes from the model named before its dot; with `base none` the sample is the
# pure product of the exact ring and the learned bar, sampled with RRR's annealed HMC.
model exact = toy2d
model learned = toy2d-mlp
sampler ddpm(steps: 100)
mcmc hmc(steps: 10, step_size: 0.03, leapfrog: 3, damping: 0.5)
base none
scale 1
seed 0
samples 2000

sample product = exact.ring AND learned.bar
