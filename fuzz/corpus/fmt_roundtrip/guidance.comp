# Classifier-free guidance against a base: eps = eps_base + s * (eps_ring - eps_base).
# `null` is toy2d's unconditional model (the equal mixture of its concepts); a scale above 1
# sharpens the ring's modes away from everything else.
model toy2d
base null
samples 2000

sample guided = ring
sample strong = ring with scale 3
sample against_box = ring with base box_large, scale 2
