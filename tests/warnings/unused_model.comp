# W0008: `learned` is named but no term comes from it
model exact = toy2d
model learned = toy2d-mlp
base exact.null
sample s = exact.ring AND exact.bar
