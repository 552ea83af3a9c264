model toy3d
sample s = ring
