# Composable Diffusion's attribute experiment: one object whose colour, shape and size you
# compose. `red_square` asks for three attributes at once; `not_small` keeps one and forbids
# another. (examples/attributes_cross.comp takes them from two separately trained models.)
# Uses the shipped weights in models/clevr-attr/ (`comp train clevr-attr`).
model clevr-attr
scale 7.5
sampler ddim(steps: 50)

sample red_square = red AND square AND small
sample not_small = blue AND NOT small
sample yellow_disc = yellow AND disc
