# Two separately trained models in one expression: clevr-attr draws the object, and the
# attribute classifier clevr-attr-clf pulls every step toward what it reads. Writing each
# attribute with both (`a.square AND clf.square`) decides the small shapes that clevr-attr
# alone leaves soft: 98% of three-attribute samples right against 91% (README, clevr-attr).
model a = clevr-attr
model clf = clevr-attr-clf
base a.null
scale 3
sampler ddim(steps: 50)

sample red_small_square = a.red AND clf.red AND a.small AND clf.small AND a.square AND clf.square
# The classifier alone on clevr-attr's unconditional model: cheaper per step, less exact.
sample by_classifier = clf.cyan AND clf.large AND clf.disc
