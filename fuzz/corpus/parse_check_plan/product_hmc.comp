# RRR's fix for the product: annealed HMC at every noise level (their 2D settings).
# Reverse diffusion alone leaves samples between and beside the two modes; HMC moves them in.
model toy2d
sampler ddpm(steps: 100)
mcmc hmc(steps: 10, step_size: 0.03, leapfrog: 3, damping: 0.5, mass: 1)
base none
seed 0
samples 2000

sample product = ring AND bar
