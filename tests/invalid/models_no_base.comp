# E0129: several models and no `base`
model exact = toy2d
model learned = toy2d-mlp
sample s = exact.ring AND learned.bar
