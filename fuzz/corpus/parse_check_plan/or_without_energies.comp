# OR needs energies; a model without them rejects it.
model clevr-pos
sample s = pos(0.2, 0.5) OR pos(0.8, 0.5)
