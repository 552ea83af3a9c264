model toy2d
base none
sample s = ring @ [0, 0.4] AND bar @ [0, 0.4]
