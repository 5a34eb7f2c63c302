"""Optimizers update ``Parameter.data`` in place from ``Parameter.grad``.

In-place updates matter twice: a model keeps the arrays it was built with (so anything holding a
reference sees the new weights), and the arithmetic is the same on every run, which is what makes
training bit-for-bit reproducible from a seed.
"""

import numpy as np


class Optimizer:
    def __init__(self, parameters, lr, weight_decay=0.0):
        self.parameters = list(parameters)
        if not self.parameters:
            raise ValueError("optimizer got no parameters: pass model.parameters()")
        if not lr > 0:
            raise ValueError(f"learning rate must be positive, got {lr}")
        self.lr = lr
        self.weight_decay = weight_decay

    def zero_grad(self):
        for param in self.parameters:
            param.zero_grad()

    def step(self):
        raise NotImplementedError(f"{type(self).__name__} must define step()")

    def decayed_grad(self, param):
        """``param``'s gradient plus the L2 weight-decay term (the gradient itself when
        ``weight_decay`` is zero)."""
        return param.grad + self.weight_decay * param.data if self.weight_decay else param.grad


class SGD(Optimizer):
    """Stochastic gradient descent with (heavy-ball) momentum and optional L2 weight decay:
    ``v = momentum * v + grad; w -= lr * v``."""

    def __init__(self, parameters, lr=0.01, momentum=0.0, weight_decay=0.0):
        super().__init__(parameters, lr, weight_decay)
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        self.momentum = momentum
        self.velocities = [np.zeros_like(param.data) for param in self.parameters]

    def step(self):
        for param, velocity in zip(self.parameters, self.velocities):
            grad = self.decayed_grad(param)
            velocity *= self.momentum
            velocity += grad
            param.data -= self.lr * velocity


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015): per-weight step sizes from running averages of the gradient
    and its square, with bias correction for the first steps."""

    def __init__(self, parameters, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(parameters, lr, weight_decay)
        if not all(0 <= beta < 1 for beta in betas):
            raise ValueError(f"betas must be in [0, 1), got {betas}")
        self.beta1, self.beta2 = betas
        self.eps = eps
        self.steps = 0
        self.first_moments = [np.zeros_like(param.data) for param in self.parameters]
        self.second_moments = [np.zeros_like(param.data) for param in self.parameters]

    def step(self):
        self.steps += 1
        correction1 = 1 - self.beta1**self.steps
        correction2 = 1 - self.beta2**self.steps
        for param, m, v in zip(self.parameters, self.first_moments, self.second_moments):
            grad = self.decayed_grad(param)
            m *= self.beta1
            m += (1 - self.beta1) * grad
            v *= self.beta2
            v += (1 - self.beta2) * grad * grad
            param.data -= (self.lr / correction1) * m / (np.sqrt(v / correction2) + self.eps)
