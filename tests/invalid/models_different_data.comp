# E0127: 2D points and 32x32 pictures cannot be composed
model exact = toy2d
model scenes = clevr-pos
base none
sample s = exact.ring AND scenes.pos(0.5, 0.5)
