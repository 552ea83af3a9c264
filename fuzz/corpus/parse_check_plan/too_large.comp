# Each let doubles the one before: inlined, the sample has 2^15 terms.
model toy2d
let a0 = ring
let a1 = a0 AND a0
let a2 = a1 AND a1
let a3 = a2 AND a2
let a4 = a3 AND a3
let a5 = a4 AND a4
let a6 = a5 AND a5
let a7 = a6 AND a6
let a8 = a7 AND a7
let a9 = a8 AND a8
let a10 = a9 AND a9
let a11 = a10 AND a10
let a12 = a11 AND a11
let a13 = a12 AND a12
let a14 = a13 AND a13
let a15 = a14 AND a14
sample s = a15 AND bar
