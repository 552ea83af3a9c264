# Negation: the large box with the small box carved out (RRR's 1.3 * large - 0.3 * small).
# With exact uniform boxes the mass gathers at the large box's edge and the centre empties.
model toy2d
base none
samples 2000

sample frame = 1.3 * box_large AND NOT 0.3 * box_small
