model toy2d
sample s = ring AND 0.5 *
