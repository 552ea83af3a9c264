model toy2d
sample s = ring AND bar @ [0.5, 1.5]
