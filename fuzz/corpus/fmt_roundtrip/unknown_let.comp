model toy2d
let stripe = bar
sample s = ring AND strpe
