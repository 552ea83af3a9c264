model clevr-pos
sample s = pos AND pos(0.5, 0.5)
