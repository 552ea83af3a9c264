model toy2d
base left_bar OR right_bar
sample s = ring
