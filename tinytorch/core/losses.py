"""Losses. ``CrossEntropyLoss`` takes logits, not probabilities, for two reasons: computing
``log(softmax(z))`` as ``z - logsumexp(z)`` never takes the log of an underflowed zero, and the
gradient of softmax followed by cross-entropy collapses to ``(softmax(z) - onehot(y)) / n``,
cheaper and better conditioned than chaining the two Jacobians."""

import numpy as np

from .layers import softmax


def log_softmax(logits):
    """``log(softmax(logits))`` row-wise, computed without overflow or ``log(0)``."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def check_targets(targets, logits):
    """Return ``targets`` as int64 class ids matching ``logits`` or raise a clear ValueError."""
    targets = np.asarray(targets)
    if targets.ndim != 1 or len(targets) != len(logits):
        raise ValueError(
            f"targets must be a 1-D array of {len(logits)} class ids (one per row of logits), "
            f"got shape {targets.shape}"
        )
    if not np.issubdtype(targets.dtype, np.integer):
        raise ValueError(f"targets must be integer class ids, got dtype {targets.dtype}")
    num_classes = logits.shape[1]
    if len(targets) and (targets.min() < 0 or targets.max() >= num_classes):
        raise ValueError(
            f"targets must be class ids in 0..{num_classes - 1}, got values from "
            f"{targets.min()} to {targets.max()}"
        )
    return targets.astype(np.int64, copy=False)


class CrossEntropyLoss:
    """Mean negative log-likelihood of the target classes given logits of shape (n, classes).

    ``loss = CrossEntropyLoss(); value = loss(logits, y); grad = loss.backward()`` gives the
    gradient with respect to the logits, ready for ``model.backward(grad)``.
    """

    def forward(self, logits, targets):
        targets = check_targets(targets, logits)
        log_probs = log_softmax(logits)
        self._logits, self._targets = logits, targets
        return float(-log_probs[np.arange(len(targets)), targets].mean())

    def backward(self):
        grad = softmax(self._logits)
        grad[np.arange(len(self._targets)), self._targets] -= 1
        return grad / len(self._targets)

    def __call__(self, logits, targets):
        return self.forward(logits, targets)
