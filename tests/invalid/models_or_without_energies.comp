# E0112: `OR` mixes by energies, and toy2d-mlp-eps has none
model exact = toy2d
model score = toy2d-mlp-eps
base none
sample s = exact.left_bar OR score.right_bar
