# E0130: both models know `ring`: say which
model exact = toy2d
model learned = toy2d-mlp
base none
sample s = ring AND learned.bar
