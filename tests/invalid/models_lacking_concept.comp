# E0103: `exact` has no concept `pos`
model exact = toy2d
model learned = toy2d-mlp
base exact.null
sample s = exact.pos(0.5, 0.5) AND learned.rign
