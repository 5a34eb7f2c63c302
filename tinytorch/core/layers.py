"""Layers and networks with layer-local forward and backward.

Why layer-local backward instead of autograd: a multilayer perceptron is a chain, so the chain
rule needs no graph. Each layer's ``forward`` remembers what its ``backward`` will need (the
input of a ``Linear``, the mask of a ``ReLU``), and ``backward(grad_output)`` returns the gradient
with respect to its input after adding the gradients of its own parameters to ``param.grad``.
``Sequential.backward`` simply walks the layers in reverse. The price is that only chains are
expressible; the gain is that every gradient is a few lines one can check by hand (and the tests
check each one against finite differences).

That remembered state is the "gradient bookkeeping" that ``tinytorch.core.kernels`` removes for
inference.

Every model, trainable or not, offers callers the same interface (``Model``): ``forward(x)`` and
``model(x)`` map a float32 batch of shape ``(n, *input_shape)`` to logits, ``predict`` returns
int64 class ids, ``predict_proba`` probabilities, and ``input_shape``, ``num_parameters`` and
``nbytes`` describe it.
"""

import numpy as np


# ---------------------------------------------------------------------------------------------
# activation functions (pure, shared by the layers, the losses and the inference kernels)
# ---------------------------------------------------------------------------------------------


def softmax(logits):
    """Row-wise softmax, stable for any logits: subtracting the row maximum first keeps
    ``exp`` from overflowing without changing the result."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def activate_inplace(x, activation):
    """Apply the named activation (``"relu"``, ``"tanh"``, ``"softmax"`` or None) to a float
    array, overwriting it where possible; returns the result. Used by inference-only models,
    which keep nothing for a backward pass."""
    if activation == "relu":
        return np.maximum(x, 0, out=x)
    if activation == "tanh":
        return np.tanh(x, out=x)
    if activation == "softmax":
        return softmax(x)
    return x


# ---------------------------------------------------------------------------------------------
# parameters and the module base class
# ---------------------------------------------------------------------------------------------


class Parameter:
    """A trainable array and the gradient accumulated for it by ``backward``."""

    def __init__(self, data):
        self.data = np.ascontiguousarray(data)
        self.grad = np.zeros_like(self.data)

    def zero_grad(self):
        self.grad.fill(0)

    def __repr__(self):
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


class Module:
    """A differentiable layer: ``forward`` caches what ``backward`` needs."""

    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__} must define forward(x)")

    def backward(self, grad_output):
        raise NotImplementedError(f"{type(self).__name__} must define backward(grad_output)")

    def parameters(self):
        return []

    def zero_grad(self):
        for param in self.parameters():
            param.zero_grad()

    def config(self):
        """The layer's architecture as JSON-able values (its type name and sizes)."""
        return {"type": type(self).__name__}

    def __call__(self, x):
        return self.forward(x)


# ---------------------------------------------------------------------------------------------
# layers
# ---------------------------------------------------------------------------------------------


class Linear(Module):
    """``y = x @ weight + bias`` with ``weight`` of shape ``(in_features, out_features)``.

    Weights start He-normal (std ``sqrt(2 / in_features)``, right for ReLU networks), biases at
    zero. Pass ``rng`` (a ``numpy.random.Generator``) for reproducible initialisation.
    """

    def __init__(self, in_features, out_features, rng=None):
        if int(in_features) < 1 or int(out_features) < 1:
            raise ValueError(
                f"Linear needs positive sizes, got in_features={in_features}, "
                f"out_features={out_features}"
            )
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        rng = np.random.default_rng() if rng is None else rng
        std = np.sqrt(2.0 / self.in_features)
        weight = rng.standard_normal((self.in_features, self.out_features)) * std
        self.weight = Parameter(weight.astype(np.float32))
        self.bias = Parameter(np.zeros(self.out_features, dtype=np.float32))
        self._input = None

    @classmethod
    def from_arrays(cls, weight, bias):
        """A Linear holding the given ``weight`` (in_features, out_features) and ``bias`` as its
        parameters, built without drawing initial weights (a loader would only overwrite them)."""
        layer = cls.__new__(cls)
        layer.in_features, layer.out_features = weight.shape
        layer.weight = Parameter(weight)
        layer.bias = Parameter(bias)
        layer._input = None
        return layer

    def forward(self, x):
        self._input = x
        return x @ self.weight.data + self.bias.data

    def backward(self, grad_output):
        self.weight.grad += self._input.T @ grad_output
        self.bias.grad += grad_output.sum(axis=0)
        return grad_output @ self.weight.data.T

    def parameters(self):
        return [self.weight, self.bias]

    def config(self):
        return {"type": "Linear", "in_features": self.in_features, "out_features": self.out_features}

    def __repr__(self):
        return f"Linear({self.in_features}, {self.out_features})"


class ReLU(Module):
    """``max(x, 0)``; the gradient passes where the input was positive."""

    name = "relu"

    def forward(self, x):
        self._mask = x > 0
        return x * self._mask

    def backward(self, grad_output):
        return grad_output * self._mask

    def __repr__(self):
        return "ReLU()"


class Tanh(Module):
    """``tanh(x)``; its derivative ``1 - tanh(x)**2`` reuses the output."""

    name = "tanh"

    def forward(self, x):
        self._output = np.tanh(x)
        return self._output

    def backward(self, grad_output):
        return grad_output * (1 - self._output**2)

    def __repr__(self):
        return "Tanh()"


class Softmax(Module):
    """Row-wise softmax. For training, prefer logits + ``CrossEntropyLoss`` (fused and stable);
    this layer is for models that must output probabilities."""

    name = "softmax"

    def forward(self, x):
        self._output = softmax(x)
        return self._output

    def backward(self, grad_output):
        s = self._output
        return s * (grad_output - (grad_output * s).sum(axis=-1, keepdims=True))

    def __repr__(self):
        return "Softmax()"


ACTIVATIONS = {cls.name: cls for cls in (ReLU, Tanh, Softmax)}
ACTIVATION_LAYERS = {cls.__name__: cls for cls in ACTIVATIONS.values()}  # by config "type"


# ---------------------------------------------------------------------------------------------
# the model interface and networks
# ---------------------------------------------------------------------------------------------


class Model:
    """What every model offers its callers, whatever it is made of.

    Subclasses implement ``forward``, ``input_shape``, ``num_parameters``, ``nbytes``,
    ``outputs_probabilities`` and ``dense_stages`` (the network as a list of
    ``(weight, bias, activation_name)``, which compression and the inference kernels consume).
    """

    outputs_probabilities = False

    def check_input(self, x):
        """Return ``x`` as a float array of shape ``(n, *input_shape)`` or raise a ValueError
        that says what was wrong and how to fix it."""
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
                raise ValueError(f"model input must be numeric, got dtype {x.dtype}")
            x = x.astype(np.float32)
        expected = tuple(self.input_shape)
        if x.shape == expected:
            raise ValueError(
                f"model input must be a batch of shape (n, {', '.join(map(str, expected))}); got a "
                f"single sample of shape {x.shape}: pass x.reshape(1, -1)"
            )
        if x.ndim != 1 + len(expected) or x.shape[1:] != expected:
            raise ValueError(
                f"model input must have shape (n, {', '.join(map(str, expected))}), got {x.shape}"
            )
        return x

    def __call__(self, x):
        return self.forward(x)

    def predict(self, x):
        """Class ids (int64) of the highest score in each row."""
        return np.argmax(self.forward(x), axis=1).astype(np.int64)

    def predict_proba(self, x):
        """Class probabilities: rows of non-negative numbers summing to one."""
        output = self.forward(x)
        return output if self.outputs_probabilities else softmax(output)


def check_widths_chain(layers):
    """Raise a ValueError when a Linear layer's input size differs from the width reaching it,
    so a mis-sized network fails when it is built (or loaded), not inside a later matmul.
    Activations keep the width; any other layer may change it, so the check restarts after it."""
    width, source = None, None
    for index, layer in enumerate(layers):
        if isinstance(layer, Linear):
            if width is not None and layer.in_features != width:
                raise ValueError(
                    f"layer {index} ({layer!r}) takes {layer.in_features} inputs but layer "
                    f"{source} ({layers[source]!r}) produces {width}: make them match"
                )
            width, source = layer.out_features, index
        elif type(layer) not in ACTIVATIONS.values():
            width = None


class Sequential(Module, Model):
    """A chain of layers, trained by calling ``backward`` on each layer in reverse order."""

    def __init__(self, *layers):
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        if not any(isinstance(layer, Linear) for layer in layers):
            raise ValueError("Sequential needs at least one Linear layer to know its input size")
        for layer in layers:
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential takes layers (Module instances), got {layer!r}")
        check_widths_chain(layers)
        self.layers = list(layers)

    def forward(self, x):
        x = self.check_input(x)
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, grad_output):
        for layer in reversed(self.layers):
            grad_output = layer.backward(grad_output)
        return grad_output

    def parameters(self):
        return [param for layer in self.layers for param in layer.parameters()]

    @property
    def input_shape(self):
        first_linear = next(layer for layer in self.layers if isinstance(layer, Linear))
        return (first_linear.in_features,)

    @property
    def num_parameters(self):
        return int(sum(param.data.size for param in self.parameters()))

    @property
    def nbytes(self):
        return int(sum(param.data.nbytes for param in self.parameters()))

    @property
    def outputs_probabilities(self):
        return isinstance(self.layers[-1], Softmax)

    def config(self):
        return {"type": "Sequential", "layers": [layer.config() for layer in self.layers]}

    def tensors(self):
        """Parameter arrays by name (``"<layer index>.weight"``), as ``sequential_from_config``
        expects them."""
        return {
            f"{index}.{name}": getattr(layer, name).data
            for index, layer in enumerate(self.layers)
            if isinstance(layer, Linear)
            for name in ("weight", "bias")
        }

    def dense_stages(self):
        """The network as ``[(weight, bias, activation_name or None), ...]``: each Linear with the
        activation that follows it. Raises ValueError for chains of another shape."""
        stages = []
        for position, layer in enumerate(self.layers):
            if isinstance(layer, Linear):
                stages.append([layer.weight.data, layer.bias.data, None])
            elif stages and stages[-1][2] is None and getattr(layer, "name", None) in ACTIVATIONS:
                stages[-1][2] = layer.name
            else:
                raise ValueError(
                    f"only chains of Linear layers, each followed by at most one activation, can "
                    f"be compiled; layer {position} ({layer!r}) does not fit"
                )
        return [tuple(stage) for stage in stages]

    def __repr__(self):
        inner = ",\n".join(f"  {layer!r}" for layer in self.layers)
        return f"Sequential(\n{inner}\n)"


def mlp(sizes, activation="relu", seed=0):
    """A multilayer perceptron ``Linear -> activation -> ... -> Linear`` producing logits.

    ``mlp([64, 128, 10])`` has one hidden layer of 128 units. ``seed`` makes initialisation
    reproducible.
    """
    sizes = [int(size) for size in sizes]
    if len(sizes) < 2:
        raise ValueError(f"mlp needs at least an input and an output size, got {sizes}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}")
    rng = np.random.default_rng(seed)
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(Linear(n_in, n_out, rng=rng))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    return Sequential(*layers)


def sequential_from_config(config, tensors):
    """Rebuild a Sequential from ``config()`` output and its parameter arrays, named
    ``"<layer index>.weight"`` / ``"<layer index>.bias"``. Only known layer types are built;
    nothing in the config is ever executed. Raises ValueError on anything unexpected."""
    if not isinstance(config, dict) or config.get("type") != "Sequential":
        raise ValueError("architecture is not a Sequential")
    layer_configs = config.get("layers")
    if not isinstance(layer_configs, list) or not layer_configs:
        raise ValueError("architecture has no layer list")
    layers = []
    for index, layer_config in enumerate(layer_configs):
        kind = layer_config.get("type") if isinstance(layer_config, dict) else None
        if kind == "Linear":
            layers.append(_linear_from_config(index, layer_config, tensors))
        elif isinstance(kind, str) and kind in ACTIVATION_LAYERS:  # a list is not hashable
            layers.append(ACTIVATION_LAYERS[kind]())
        else:
            raise ValueError(f"layer {index} has unknown type {kind!r}")
    return Sequential(*layers)


def _linear_from_config(index, layer_config, tensors):
    sizes = layer_config.get("in_features"), layer_config.get("out_features")
    if not all(isinstance(size, int) and size > 0 for size in sizes):
        raise ValueError(f"layer {index} (Linear) has invalid sizes {sizes}")
    weight, bias = tensors.get(f"{index}.weight"), tensors.get(f"{index}.bias")
    if weight is None or bias is None:
        raise ValueError(f"layer {index} (Linear) is missing its weight or bias tensor")
    if not (np.issubdtype(weight.dtype, np.floating) and np.issubdtype(bias.dtype, np.floating)):
        raise ValueError(f"layer {index} (Linear) needs float tensors, got {weight.dtype}")
    if weight.shape != sizes or bias.shape != sizes[1:]:
        raise ValueError(
            f"layer {index} (Linear {sizes[0]}->{sizes[1]}) has tensors of shapes {weight.shape} "
            f"and {bias.shape}"
        )
    return Linear.from_arrays(weight, bias)


def parse_stage_config(config, expected_type):
    """Validate the architecture of a stage-based model (``QuantizedModel``,
    ``InferenceModel``): ``{"type": ..., "stages": [{"in_features", "out_features",
    "activation"}, ...]}``. Returns ``[(in_features, out_features, activation), ...]`` or raises
    ValueError saying what is wrong."""
    if not isinstance(config, dict) or config.get("type") != expected_type:
        raise ValueError(f"architecture is not a {expected_type}")
    stages = config.get("stages")
    if not isinstance(stages, list) or not stages:
        raise ValueError(f"{expected_type} architecture has no stage list")
    parsed = []
    for index, stage in enumerate(stages):
        if not isinstance(stage, dict):
            raise ValueError(f"stage {index} is not an object")
        sizes = stage.get("in_features"), stage.get("out_features")
        if not all(isinstance(size, int) and size > 0 for size in sizes):
            raise ValueError(f"stage {index} has invalid sizes {sizes}")
        activation = stage.get("activation")
        if activation is not None and not (isinstance(activation, str) and activation in ACTIVATIONS):
            raise ValueError(f"stage {index} has unknown activation {activation!r}")
        if parsed and parsed[-1][1] != sizes[0]:
            raise ValueError(f"stage {index} takes {sizes[0]} inputs but stage {index - 1} "
                             f"produces {parsed[-1][1]}")
        parsed.append((*sizes, activation))
    return parsed


def stage_config(expected_type, stages):
    """The JSON architecture of a stage-based model from ``[(in, out, activation), ...]``."""
    return {"type": expected_type, "stages": [
        {"in_features": n_in, "out_features": n_out, "activation": activation}
        for n_in, n_out, activation in stages
    ]}


class StageModel(Model):
    """What the stage-based models (``QuantizedModel``, ``InferenceModel``) share. Each entry of
    ``self.stages`` is a tuple whose first item is the weight, of shape (in_features, out_features),
    and whose last is the activation name (or None); ``type_name`` is the model's ``"type"`` in
    ``config()`` and ``repr_label`` what its repr shows before the stages."""

    type_name = None
    repr_label = ""

    @property
    def input_shape(self):
        return (self.stages[0][0].shape[0],)

    @property
    def outputs_probabilities(self):
        return self.stages[-1][-1] == "softmax"

    def config(self):
        return stage_config(self.type_name, self._stage_sizes())

    def __repr__(self):
        shapes = " -> ".join(f"{n_in}x{n_out}+{activation or 'linear'}"
                             for n_in, n_out, activation in self._stage_sizes())
        return f"{self.type_name}({self.repr_label}{shapes})"

    def _stage_sizes(self):
        """``[(in_features, out_features, activation), ...]``, as ``stage_config`` takes them."""
        return [(*stage[0].shape, stage[-1]) for stage in self.stages]
