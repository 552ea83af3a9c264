model toy2d
mcmc hmc(steps: 10, leapfrogs: 3)
sample s = ring AND bar
