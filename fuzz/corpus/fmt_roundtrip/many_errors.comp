# Every problem in a file is reported at once.
model toy2d
samples 0
let a = rnig
sample s = a AND NOT bar @ [0, 2]
sample s = "text" AND box_large
