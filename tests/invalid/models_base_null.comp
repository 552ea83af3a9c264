# E0129: `base null` names no model when there are several
model exact = toy2d
model learned = toy2d-mlp
base null
sample s = exact.ring AND learned.bar
