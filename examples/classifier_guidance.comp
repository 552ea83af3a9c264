# Classifier guidance (RRR's "controllable generation"): a classifier p(y | x_t) is a model you
# compose. `clf.ring` adds −σ_t·∇ log p(ring | x_t) to the denoiser's prediction; with toy2d's
# exact classifier that is exactly classifier-free guidance (`model toy2d`, `base null`,
# `sample s = ring`), sample for sample. The classifier's terms take NOT, weights and windows
# (a negation against `base d.null` leaves the box at scales above 1: `with scale 1`).
model d = toy2d
model clf = toy2d-clf
base d.null
scale 4

sample guided = clf.ring
sample box_not_small = d.box_large AND NOT clf.box_small with scale 1
sample late = d.box_large AND 2 * clf.ring @ [0.5, 1]
