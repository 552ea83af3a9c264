model toy2d
sample s = "a red cube" AND ring
