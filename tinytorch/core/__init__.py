"""What the earlier TinyTorch modules built: layers, losses, optimizers, data, training,
compression, inference kernels and benchmarking. ``tinytorch.core.mlops`` is the capstone."""
