# An expression continues over lines only inside parentheses.
model toy2d
sample s = ring AND
    bar
