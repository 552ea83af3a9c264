model toy2d
sample s = ring @ [0, 0.5
