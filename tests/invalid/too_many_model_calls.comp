# each count is in range, their product is not: 100 + 99 * (10000 * 1000 + 1) model calls
model toy2d
mcmc hmc(steps: 10000, leapfrog: 1000)
sample s = ring AND bar
