model toy2d
base none
sample s = ring AND bar AND ring
