"""Training a challenger with the tinytorch ``Trainer`` on a documented mix of old and new data.

The mix (``replay_mix``): all new rows that are not held out for the gate, plus
``replay_ratio`` times as many rows sampled (seeded, without replacement) from the old training
data. Replaying old rows is the standard guard against catastrophic forgetting: a model trained
on the new population alone forgets the old one (and the golden set would refuse it).
``replay_ratio=0`` trains on new data only; ``replay_ratio=1`` gives a 50/50 mix.

Two starting points: ``"scratch"`` (the champion's architecture with fresh weights: no memory of
the old data but the replayed rows) and ``"warm"`` (a copy of the champion's weights, fine-tuned:
fewer epochs, but it inherits the champion's biases).
"""

from dataclasses import dataclass

import numpy as np

from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.optimizers import Adam
from tinytorch.core.serialization import model_from_bytes, model_to_bytes
from tinytorch.core.training import Trainer

STRATEGIES = ("scratch", "warm")


@dataclass(frozen=True)
class RetrainConfig:
    """How a challenger is trained (recorded as the registered version's params)."""

    strategy: str = "scratch"
    replay_ratio: float = 1.0      # old rows per new training row
    holdout_fraction: float = 0.25  # share of new rows held out for the gate
    epochs: int = 30
    lr: float = 0.005
    batch_size: int = 32
    seed: int = 0

    def __post_init__(self):
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown retrain strategy {self.strategy!r}; use one of {STRATEGIES}")
        if not 0 < self.holdout_fraction < 1:
            raise ValueError(f"holdout_fraction must be in (0, 1), got {self.holdout_fraction}")
        if self.replay_ratio < 0:
            raise ValueError(f"replay_ratio must be >= 0, got {self.replay_ratio}")


def split_holdout(n_rows, fraction, seed):
    """Seeded split of ``range(n_rows)`` into ``(train_rows, holdout_rows)``; at least one row
    lands on each side."""
    order = np.random.default_rng(seed).permutation(n_rows)
    n_holdout = min(max(1, round(n_rows * fraction)), n_rows - 1)
    return np.sort(order[n_holdout:]), np.sort(order[:n_holdout])


def replay_mix(new, old, replay_ratio, seed):
    """Training rows: every new row plus ``replay_ratio * len(new)`` old rows (seeded sample
    without replacement, capped at the old data's size). ``new``/``old`` are ``(X, y)``."""
    X_new, y_new = new
    if old is None or replay_ratio == 0:
        return X_new, y_new
    X_old, y_old = old
    n_old = min(len(y_old), int(round(replay_ratio * len(y_new))))
    rows = np.sort(np.random.default_rng(seed).choice(len(y_old), n_old, replace=False))
    return np.concatenate([X_new, X_old[rows]]), np.concatenate([y_new, y_old[rows]])


def starting_point(champion, strategy, seed):
    """A trainable copy of the champion: its weights (``"warm"``) or fresh He-initialised
    weights of the same architecture (``"scratch"``). The champion itself is never modified."""
    if not isinstance(champion, Sequential):
        raise TypeError(f"retraining needs a trainable Sequential model, got "
                        f"{type(champion).__name__}; retrain the float model, then quantize")
    model = model_from_bytes(model_to_bytes(champion), source="champion copy")
    if strategy == "scratch":
        rng = np.random.default_rng(seed)
        for layer in model.layers:
            if isinstance(layer, Linear):
                fresh = Linear(layer.in_features, layer.out_features, rng)
                layer.weight.data[...] = fresh.weight.data
                layer.bias.data[...] = fresh.bias.data
    return model


def train_challenger(champion, train, config):
    """Train a challenger on ``train = (X, y)`` as ``config`` says; returns ``(model, history)``."""
    model = starting_point(champion, config.strategy, config.seed)
    trainer = Trainer(model, Adam(model.parameters(), lr=config.lr), batch_size=config.batch_size,
                      seed=config.seed)
    return model, trainer.fit(train, epochs=config.epochs)

