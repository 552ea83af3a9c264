# The same composition from two separately trained models: colours from one, shapes and sizes
# from the other (issue 18's several models per script). Each term is guided by its own model's
# null; `base c.null` is the prior the guidance starts from.
model c = clevr-attr-color
model s = clevr-attr-shape-size
base c.null
scale 7.5
sampler ddim(steps: 50)

sample red_square = c.red AND s.square AND s.small
