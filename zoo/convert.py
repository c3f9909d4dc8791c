"""Placeholder."""
def to_fully_convolutional(model):
    raise NotImplementedError
