# E0126: a model named like a concept
model ring = toy2d
model learned = toy2d-mlp
base none
sample s = ring.bar AND learned.bar
