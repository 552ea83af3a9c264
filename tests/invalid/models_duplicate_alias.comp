# E0125: `m` names two models
model m = toy2d
model m = toy2d-mlp
base none
sample s = m.ring
