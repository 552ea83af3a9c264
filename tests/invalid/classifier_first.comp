# E0132: a classifier guides a denoiser; the first model must be the denoiser
model clf = toy2d-clf
model d = toy2d
base d.null
sample s = clf.ring
