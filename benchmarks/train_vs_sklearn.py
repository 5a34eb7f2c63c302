"""Trainer vs scikit-learn's MLPClassifier on the same digits split: CPU time per epoch and to
equal accuracy, in the same run.

Both train a 64 -> 128 -> 10 ReLU network with Adam (learning rate 0.005) on mini-batches of 32
of the train split, with one BLAS thread, timed in CPU seconds of this process; the seeds are
interleaved, tinytorch and scikit-learn alternating within each round (see ``rounds``).

- Per epoch: ``EPOCHS`` epochs on each side and no early stopping anywhere (scikit-learn with
  ``max_iter=EPOCHS`` and ``n_iter_no_change`` beyond it, so it runs every epoch), CPU seconds
  divided by the epochs run.
- To equal accuracy: one epoch at a time (tinytorch: ``Trainer.train_step`` over a shuffling
  ``DataLoader``, as ``Trainer.fit`` does; scikit-learn: ``partial_fit``), validation accuracy
  checked after each epoch outside the timed part, until it reaches ``TARGET``; CPU seconds and
  epochs to get there, and the test accuracy then.

Verdict: tinytorch reaches ``TARGET`` validation accuracy within ``MAX_EPOCHS`` on every seed,
with at least ``TEST_FLOOR`` test accuracy there. The CPU ratios are printed as they are:
scikit-learn is the yardstick a reader knows, not a target (its inner loop is the same NumPy
and BLAS; the difference is per-batch Python overhead). scikit-learn is a benchmark dependency
only; tinytorch never imports it.

    .venv/bin/python benchmarks/train_vs_sklearn.py
"""

import sys
import warnings

import rounds  # noqa: F401  (before NumPy: one BLAS thread)

import numpy as np  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402

from rounds import Spread, cpu_seconds, one_blas_thread, ratio, verdict  # noqa: E402
from tinytorch.core.data import DataLoader, load_digits  # noqa: E402
from tinytorch.core.layers import mlp  # noqa: E402
from tinytorch.core.optimizers import Adam  # noqa: E402
from tinytorch.core.training import Trainer, accuracy  # noqa: E402

HIDDEN = 128
LEARNING_RATE = 0.005
BATCH = 32
SEEDS = (0, 1, 2, 3, 4)
EPOCHS = 20
TARGET = 0.97  # validation accuracy both sides train to
MAX_EPOCHS = 60
TEST_FLOOR = 0.95


def sklearn_model(seed, max_iter):
    return MLPClassifier(hidden_layer_sizes=(HIDDEN,), solver="adam", batch_size=BATCH,
                         learning_rate_init=LEARNING_RATE, max_iter=max_iter, shuffle=True,
                         early_stopping=False, n_iter_no_change=max_iter + 1, tol=0.0,
                         random_state=seed)


class TinytorchRun:
    """A tinytorch network trained one epoch at a time, as Trainer.fit trains it."""

    def __init__(self, data, seed):
        self.model = mlp([data.input_shape[0], HIDDEN, data.num_classes], seed=seed)
        self.trainer = Trainer(self.model, Adam(self.model.parameters(), lr=LEARNING_RATE),
                               batch_size=BATCH, seed=seed)
        self.loader = DataLoader(*data.train, BATCH, shuffle=True, seed=seed)

    def epoch(self):
        for X_batch, y_batch in self.loader:
            self.trainer.train_step(X_batch, y_batch)

    def accuracy(self, split):
        return accuracy(self.model.predict(split[0]), split[1])


class SklearnRun:
    """An MLPClassifier trained one epoch at a time with partial_fit."""

    def __init__(self, data, seed):
        self.model, self.data = sklearn_model(seed, 1), data
        self.classes = np.arange(data.num_classes)

    def epoch(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.model.partial_fit(*self.data.train, classes=self.classes)

    def accuracy(self, split):
        return float(self.model.score(*split))


def per_epoch(data, seed):
    """{side: CPU seconds per epoch} over EPOCHS epochs without early stopping."""
    tiny = TinytorchRun(data, seed)
    tiny_seconds, _ = cpu_seconds(lambda: [tiny.epoch() for _ in range(EPOCHS)])
    classifier = sklearn_model(seed, EPOCHS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk_seconds, _ = cpu_seconds(lambda: classifier.fit(*data.train))
    assert classifier.n_iter_ == EPOCHS, classifier.n_iter_
    return {"tinytorch": tiny_seconds / EPOCHS, "sklearn": sk_seconds / classifier.n_iter_}


def to_target(run, data):
    """(CPU seconds of training, epochs, test accuracy) until validation accuracy >= TARGET
    (epochs None if it never gets there within MAX_EPOCHS)."""
    seconds = 0.0
    for epoch in range(1, MAX_EPOCHS + 1):
        seconds += cpu_seconds(run.epoch)[0]
        if run.accuracy(data.val) >= TARGET:
            return seconds, epoch, run.accuracy(data.test)
    return seconds, None, run.accuracy(data.test)


def main():
    data = load_digits()
    print(f"digits: train {len(data.train[1])}, val {len(data.val[1])}, test {len(data.test[1])}; "
          f"MLP 64-{HIDDEN}-10, Adam lr {LEARNING_RATE}, batch {BATCH}; CPU time, one BLAS thread, "
          f"seeds {SEEDS} interleaved")
    epochs = {"tinytorch": [], "sklearn": []}
    reached = {"tinytorch": [], "sklearn": []}
    for seed in SEEDS:
        for side, seconds in per_epoch(data, seed).items():
            epochs[side].append(seconds)
        order = [("tinytorch", TinytorchRun), ("sklearn", SklearnRun)]
        for side, run in order if seed % 2 == 0 else order[::-1]:
            reached[side].append(to_target(run(data, seed), data))
        (t_s, t_e, t_a), (s_s, s_e, s_a) = reached["tinytorch"][-1], reached["sklearn"][-1]
        print(f"  seed {seed}: per epoch tinytorch {epochs['tinytorch'][-1] * 1e3:6.1f} ms, sklearn "
              f"{epochs['sklearn'][-1] * 1e3:6.1f} ms; to {TARGET:.0%} val accuracy tinytorch {t_s:.2f} s "
              f"in {t_e} epochs (test {t_a:.2%}), sklearn {s_s:.2f} s in {s_e} epochs (test {s_a:.2%})")

    print(f"\nper epoch ({EPOCHS} epochs, no early stopping), CPU ms, median (min-max) over seeds: "
          f"tinytorch {Spread.of(epochs['tinytorch']).show(1e3, ' ms', 1)}, sklearn "
          f"{Spread.of(epochs['sklearn']).show(1e3, ' ms', 1)}; tinytorch / sklearn "
          f"{ratio(epochs['tinytorch'], epochs['sklearn']).show()}")
    both = [(t, s) for t, s in zip(reached["tinytorch"], reached["sklearn"]) if t[1] and s[1]]
    if both:
        print(f"to {TARGET:.0%} validation accuracy, CPU s: tinytorch "
              f"{Spread.of([t[0] for t, _ in both]).show(unit=' s')}, sklearn "
              f"{Spread.of([s[0] for _, s in both]).show(unit=' s')}; tinytorch / sklearn "
              f"{ratio([t[0] for t, _ in both], [s[0] for _, s in both]).show()} "
              f"(seeds where both got there: {len(both)} of {len(SEEDS)})")
    ours = reached["tinytorch"]
    passed = verdict(all(epochs_run for _, epochs_run, _ in ours) and min(a for _, _, a in ours) >= TEST_FLOOR,
                     f"tinytorch reaches {TARGET:.0%} validation accuracy within {MAX_EPOCHS} epochs on every "
                     f"seed, with test accuracy {min(a for _, _, a in ours):.2%} at worst (floor {TEST_FLOOR:.0%})")
    return 0 if passed else 1


if __name__ == "__main__":
    with one_blas_thread():
        sys.exit(main())
