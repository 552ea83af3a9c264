model toy2d
base none
let ring = bar
sample s = ring
