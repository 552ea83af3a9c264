model toy2d
base none
sample s = ring AND 0 * bar
