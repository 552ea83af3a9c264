model toy2d
sample s = 1e999 * ring AND bar
