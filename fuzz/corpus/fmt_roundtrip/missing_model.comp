sample s = ring AND bar
