model toy2d
sample s = rnig AND bar
