# A mixture: samples fill the left bar and the right bar about evenly.
# OR needs a model with energies; toy2d has exact ones.
model toy2d
base none
samples 2000

sample either = left_bar OR right_bar

# Mixture weights are relative: three quarters of the mass on the left.
sample mostly_left = 3 : left_bar OR 1 : right_bar
