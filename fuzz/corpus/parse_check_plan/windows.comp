# Step windows: a term can act on a fraction of the trajectory only (0 = pure noise, 1 = end).
# The bar steers the early, noisy steps; the ring alone decides the details, so samples land on
# the ring modes nearest the bar.
model toy2d
base none
samples 2000
sampler ddim(steps: 50, eta: 1)

sample staged = ring AND bar @ [0, 0.5]
# Expressions may span lines inside parentheses.
sample late_bar = (ring  # the ring throughout
    AND 0.5 * bar @ [0.5, 1])  # the bar only in the second half
