# W0005 from the base alone: s·Σ|w| = 8 · (0.03125 + 3.6875) = 29.75, within 30, but the
# base gets 1 − s·Σw = 1 − 8 · (0.03125 − 3.6875) = 1 + 29.25 = 30.25, over it.
model toy2d
base null
scale 8
sample s = 0.03125 * ring AND NOT 3.6875 * bar
