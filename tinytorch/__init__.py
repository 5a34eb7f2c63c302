"""TinyTorch: a small, readable NumPy deep-learning library and the MLOps system built on it."""

__version__ = "0.1.0"
