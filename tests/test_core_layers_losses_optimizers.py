import numpy as np
import pytest

from tinytorch.core.layers import Linear, ReLU, Sequential, Softmax, mlp, softmax
from tinytorch.core.losses import CrossEntropyLoss, log_softmax
from tinytorch.core.optimizers import SGD, Adam


def test_mlp_shapes_and_interface():
    model = mlp([64, 32, 10], seed=0)
    x = np.random.default_rng(0).random((7, 64), dtype=np.float32)
    logits = model(x)
    assert logits.shape == (7, 10) and logits.dtype == np.float32
    assert model.input_shape == (64,)
    assert model.num_parameters == 64 * 32 + 32 + 32 * 10 + 10
    assert model.nbytes == 4 * model.num_parameters
    predicted = model.predict(x)
    assert predicted.dtype == np.int64 and np.array_equal(predicted, logits.argmax(axis=1))
    np.testing.assert_allclose(model.predict_proba(x).sum(axis=1), 1, rtol=1e-6)


def test_model_ending_in_softmax_is_not_softmaxed_twice():
    rng = np.random.default_rng(0)
    model = Sequential(Linear(4, 3, rng=rng), Softmax())
    x = rng.random((2, 4), dtype=np.float32)
    np.testing.assert_allclose(model.predict_proba(x), model(x))


def test_layer_sizes_must_chain_through_activations():
    with pytest.raises(ValueError, match=r"layer 2 \(Linear\(5, 2\)\) takes 5 inputs but layer 0 "
                                         r"\(Linear\(4, 3\)\) produces 3"):
        Sequential(Linear(4, 3), ReLU(), Linear(5, 2))
    assert Sequential(Linear(4, 3), ReLU(), Linear(3, 2)).input_shape == (4,)


def test_same_seed_same_weights_different_seed_different_weights():
    a, b, c = mlp([8, 4, 2], seed=1), mlp([8, 4, 2], seed=1), mlp([8, 4, 2], seed=2)
    assert all(np.array_equal(p.data, q.data) for p, q in zip(a.parameters(), b.parameters()))
    assert not np.array_equal(a.parameters()[0].data, c.parameters()[0].data)


@pytest.mark.parametrize("bad, message", [
    (np.zeros((3, 63)), r"shape \(n, 64\), got \(3, 63\)"),
    (np.zeros(64), r"reshape\(1, -1\)"),
    (np.array([["a"] * 64]), "numeric"),
])
def test_bad_input_is_explained(bad, message):
    with pytest.raises(ValueError, match=message):
        mlp([64, 10]).predict(bad)


def test_integer_input_is_accepted():
    model = mlp([4, 2])
    np.testing.assert_allclose(model(np.ones((1, 4), dtype=np.int64)), model(np.ones((1, 4), np.float32)))


def test_softmax_and_log_softmax_are_stable():
    logits = np.array([[1000.0, 0.0, -1000.0], [0.0, 0.0, 0.0]])
    assert np.all(np.isfinite(softmax(logits))) and np.all(np.isfinite(log_softmax(logits)[1]))
    np.testing.assert_allclose(softmax(logits)[0], [1, 0, 0])
    np.testing.assert_allclose(np.exp(log_softmax(logits)), softmax(logits), atol=1e-12)


def test_cross_entropy_value_and_extremes():
    loss = CrossEntropyLoss()
    assert loss(np.zeros((2, 4)), np.array([0, 3])) == pytest.approx(np.log(4))
    assert np.isfinite(loss(np.array([[1e4, -1e4]]), np.array([1])))


@pytest.mark.parametrize("targets, message", [
    (np.array([0, 5]), r"0\.\.3"), (np.array([0.0, 1.0]), "integer"), (np.array([0]), "2 class ids"),
])
def test_cross_entropy_rejects_bad_targets(targets, message):
    with pytest.raises(ValueError, match=message):
        CrossEntropyLoss()(np.zeros((2, 4)), targets)


def quadratic_steps(optimizer_factory, steps):
    """Minimise ||w - 3||^2 from w = 0; returns the final w."""
    layer = Linear(1, 1, rng=np.random.default_rng(0))
    param = layer.weight
    param.data[:] = 0
    optimizer = optimizer_factory([param])
    for _ in range(steps):
        optimizer.zero_grad()
        param.grad += 2 * (param.data - 3)
        optimizer.step()
    return float(param.data[0, 0])


def test_sgd_step_is_exact():
    assert quadratic_steps(lambda p: SGD(p, lr=0.1), 1) == pytest.approx(0.6)
    # momentum: v1 = g1 = -6, w1 = 0.6; g2 = -4.8, v2 = 0.9 * -6 - 4.8 = -10.2, w2 = 0.6 + 1.02
    assert quadratic_steps(lambda p: SGD(p, lr=0.1, momentum=0.9), 2) == pytest.approx(1.62)


def test_adam_first_step_has_size_lr_and_converges():
    assert quadratic_steps(lambda p: Adam(p, lr=0.01), 1) == pytest.approx(0.01, rel=1e-4)
    assert quadratic_steps(lambda p: Adam(p, lr=0.1), 500) == pytest.approx(3, abs=1e-2)


def test_optimizers_reject_bad_settings():
    with pytest.raises(ValueError, match="no parameters"):
        SGD([])
    with pytest.raises(ValueError, match="momentum"):
        SGD(mlp([2, 2]).parameters(), momentum=1.5)
    with pytest.raises(ValueError, match="learning rate"):
        Adam(mlp([2, 2]).parameters(), lr=0)


def test_relu_blocks_gradient_where_input_negative():
    relu = ReLU()
    relu.forward(np.array([[-1.0, 2.0]]))
    np.testing.assert_array_equal(relu.backward(np.array([[5.0, 5.0]])), [[0.0, 5.0]])
