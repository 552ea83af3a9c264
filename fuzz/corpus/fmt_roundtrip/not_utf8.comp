model toy2d
sample s = ring AND ÿþ
