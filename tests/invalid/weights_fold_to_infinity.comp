# the weights multiply to infinity once folded
model toy2d
sample s = 1e308 * 1e308 * ring
