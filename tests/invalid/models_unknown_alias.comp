# E0131: `exat` names no model of the file (did you mean `exact`?)
model exact = toy2d
model learned = toy2d-mlp
base none
sample s = exat.ring AND learned.bar
