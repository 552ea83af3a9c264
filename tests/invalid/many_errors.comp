# Every problem in a file is reported at once.
model toy2d
scale 1e400
let a = rnig
sample s = a AND NOT bar @ [0, 2]
sample s = "text" AND box_large
