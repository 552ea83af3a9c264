model toy2d
scael 3
sample s = ring AND bar
