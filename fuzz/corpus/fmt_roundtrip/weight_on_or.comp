model toy2d
sample s = 2 * (left_bar OR right_bar)
