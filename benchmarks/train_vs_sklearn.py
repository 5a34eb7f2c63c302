"""Trainer vs scikit-learn's MLPClassifier on the same digits split, in the same run.

Both train a 64 -> 128 -> 10 ReLU network with Adam, mini-batches of 32 and early stopping on
validation data; both report test accuracy and wall-clock training time over several seeds.
scikit-learn is a benchmark dependency only; tinytorch never imports it.

    .venv/bin/python benchmarks/train_vs_sklearn.py
"""

import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from tinytorch.core.data import load_digits
from tinytorch.core.training import accuracy, train_digits_classifier

HIDDEN = (128,)
SEEDS = (0, 1, 2, 3, 4)


def timed(function):
    started = time.perf_counter()
    result = function()
    return result, time.perf_counter() - started


def tinytorch_run(data, seed):
    (model, history), seconds = timed(lambda: train_digits_classifier(hidden=HIDDEN, seed=seed,
                                                                      data=data))
    X, y = data.test
    return accuracy(model.predict(X), y), seconds, len(history)


def sklearn_run(data, seed):
    # MLPClassifier carves its validation set out of what it is given: give it train + val and
    # let it hold out as many rows as our val split has (its own stratified choice of rows).
    X = np.concatenate([data.train[0], data.val[0]])
    y = np.concatenate([data.train[1], data.val[1]])
    classifier = MLPClassifier(hidden_layer_sizes=HIDDEN, solver="adam", batch_size=32,
                               learning_rate_init=0.005, max_iter=200, early_stopping=True,
                               validation_fraction=len(data.val[1]) / len(y), n_iter_no_change=8,
                               random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        _, seconds = timed(lambda: classifier.fit(X, y))
    return float(classifier.score(*data.test)), seconds, classifier.n_iter_


def main():
    data = load_digits()
    print(f"digits: train {len(data.train[1])}, val {len(data.val[1])}, test {len(data.test[1])}; "
          f"MLP 64-{'-'.join(map(str, HIDDEN))}-10, Adam, batch 32, early stopping")
    print(f"{'seed':>4}  {'tinytorch acc':>13} {'time s':>7} {'epochs':>6}   "
          f"{'sklearn acc':>11} {'time s':>7} {'epochs':>6}")
    results = []
    for seed in SEEDS:
        ours, theirs = tinytorch_run(data, seed), sklearn_run(data, seed)
        results.append((ours, theirs))
        print(f"{seed:>4}  {ours[0]:>13.2%} {ours[1]:>7.2f} {ours[2]:>6}   "
              f"{theirs[0]:>11.2%} {theirs[1]:>7.2f} {theirs[2]:>6}")
    ours, theirs = (np.array([r[i][:2] for r in results]) for i in (0, 1))
    print(f"mean  {ours[:, 0].mean():>13.2%} {ours[:, 1].mean():>7.2f}          "
          f"{theirs[:, 0].mean():>11.2%} {theirs[:, 1].mean():>7.2f}")
    print(f"tinytorch: min test accuracy {ours[:, 0].min():.2%}, slowest training "
          f"{ours[:, 1].max():.2f} s; time ratio tinytorch / sklearn "
          f"{ours[:, 1].mean() / theirs[:, 1].mean():.2f}")
    passed = ours[:, 0].min() >= 0.97 and ours[:, 1].max() < 20
    print(f"acceptance (>= 97 % test accuracy in < 20 s on every seed): {'PASS' if passed else 'FAIL'}")
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
