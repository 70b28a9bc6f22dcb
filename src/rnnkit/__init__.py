"""rnnkit: recurrent neural networks on PyTorch, from the textbook equations to trained models."""

__version__ = "0.1.0"
