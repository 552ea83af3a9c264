model toy2d
let a = ring AND b
let b = bar AND c
let c = a
sample s = a
