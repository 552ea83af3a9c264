# Composable Diffusion's positional CLEVR: objects where you ask for them.
# `pair` composes two positions with AND; `one` keeps the first and forbids the second;
# `staged` adds a weaker second object only in the first 60% of the trajectory.
# Uses the shipped weights in models/clevr-pos/ (`comp train clevr-pos`: 40 minutes on a 2-core CPU).
model clevr-pos
scale 7.5

sample pair = pos(0.25, 0.5) AND pos(0.75, 0.5)
sample one = pos(0.25, 0.5) AND NOT pos(0.75, 0.5)
sample staged = pos(0.5, 0.5) AND 0.5 * pos(0.2, 0.8) @ [0, 0.6]
