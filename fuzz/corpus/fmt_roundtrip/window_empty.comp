model toy2d
sample s = ring AND bar @ [0.6, 0.2]
