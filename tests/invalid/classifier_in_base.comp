# E0133: a classifier has no prediction of its own to be a prior
model d = toy2d
model clf = toy2d-clf
base clf.null
sample s = d.ring AND clf.bar
