"""Finite-difference checks of every layer's backward and of the loss gradient (float64)."""

import numpy as np
import pytest

from tinytorch.core.layers import Linear, ReLU, Sequential, Softmax, Tanh
from tinytorch.core.losses import CrossEntropyLoss

EPS = 1e-6


def numerical_gradient(f, array):
    """Central differences of the scalar ``f()`` with respect to every entry of ``array``."""
    grad = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        saved = array[index]
        array[index] = saved + EPS
        plus = f()
        array[index] = saved - EPS
        minus = f()
        array[index] = saved
        grad[index] = (plus - minus) / (2 * EPS)
    return grad


def as_float64(layer):
    for param in layer.parameters():
        param.data = param.data.astype(np.float64)
        param.grad = np.zeros_like(param.data)
    return layer


def check_layer(layer, x):
    """``backward`` of the projection ``sum(forward(x) * weights)`` must match finite
    differences, for the input and for every parameter."""
    rng = np.random.default_rng(1)
    projection = rng.standard_normal(layer.forward(x).shape)

    def objective():
        return float(np.sum(layer.forward(x) * projection))

    layer.zero_grad()
    layer.forward(x)
    grad_input = layer.backward(projection)
    np.testing.assert_allclose(grad_input, numerical_gradient(objective, x), rtol=1e-5, atol=1e-7)
    for param in layer.parameters():
        analytic = param.grad.copy()
        np.testing.assert_allclose(analytic, numerical_gradient(objective, param.data),
                                   rtol=1e-5, atol=1e-7)


@pytest.fixture
def x():
    return np.random.default_rng(0).standard_normal((5, 4))


def test_linear_gradients(x):
    check_layer(as_float64(Linear(4, 3, rng=np.random.default_rng(0))), x)


@pytest.mark.parametrize("layer", [ReLU(), Tanh(), Softmax()], ids=repr)
def test_activation_gradients(layer, x):
    x[np.abs(x) < 1e-3] = 0.5  # keep ReLU away from its kink
    check_layer(layer, x)


def test_network_gradients(x):
    rng = np.random.default_rng(0)
    network = Sequential(Linear(4, 6, rng=rng), Tanh(), Linear(6, 5, rng=rng), ReLU(),
                         Linear(5, 3, rng=rng), Softmax())
    for layer in network.layers:
        as_float64(layer)
    check_layer(network, x)


def test_linear_accumulates_gradients(x):
    layer = as_float64(Linear(4, 3, rng=np.random.default_rng(0)))
    layer.forward(x)
    layer.backward(np.ones((5, 3)))
    once = layer.weight.grad.copy()
    layer.backward(np.ones((5, 3)))
    np.testing.assert_allclose(layer.weight.grad, 2 * once)


def test_cross_entropy_gradient(x):
    targets = np.array([0, 2, 1, 3, 3])
    loss = CrossEntropyLoss()
    loss(x, targets)
    analytic = loss.backward()
    numeric = numerical_gradient(lambda: loss.forward(x, targets), x)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)
