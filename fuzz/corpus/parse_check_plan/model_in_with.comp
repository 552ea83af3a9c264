model toy2d
sample s = ring AND bar with model clevr-pos
