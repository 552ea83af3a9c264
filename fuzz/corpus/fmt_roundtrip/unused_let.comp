model toy2d
base none
let spare = box_small
sample s = ring AND bar
