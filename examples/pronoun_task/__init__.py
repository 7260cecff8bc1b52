"""The pronoun task of the text, the readers that learn it, and the pictures of how they do.

``task``: vocabulary, seeded sentence generator, Dataset. ``models``: embedding + torch_ext
RNN/LSTM/GRU + linear head. ``training``: training loop, accuracy by length, gradient norms by
distance, the weight cache. ``plots``: the two PNGs.
"""
