model clevr-pos
mcmc mala(steps: 20)
sample s = pos(0.2, 0.5) AND pos(0.8, 0.5)
