model toy2d
sample s = NOT ring AND NOT bar
