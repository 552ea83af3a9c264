model toy2d
let a = ring
let a = bar
sample s = a
