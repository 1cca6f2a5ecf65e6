x = [1, 2.5e-3, -3, 'a', None, True]
weights = {i: 1 + int(i >= 60) for i in range(120)}
name = f'split_{x[0]}' 'b'
