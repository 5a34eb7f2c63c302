"""The models the checks train for themselves, each from a fixed seed: the same in every grading.

A judge builds them once, before its first submission (``autograder.grading.judge.warm_up`` calls
every function of ``BUILT_ONCE``), and each submission's grading, a process forked from it, finds
them built: a third of a second of training per student saved. What one grading does to them
stays in its own process.
"""

import functools

import numpy as np


@functools.cache
def digits_classifier():
    """A small digits classifier (one hidden layer of 16, two epochs, seed 0)."""
    from tinytorch.core.training import train_digits_classifier

    model, _ = train_digits_classifier(hidden=(16,), epochs=2, seed=0)
    return model


@functools.cache
def gate_models():
    """A champion, a challenger trained on 70 % wrong labels, a golden set and recent rows."""
    from tinytorch.core.data import load_digits
    from tinytorch.core.training import train_digits_classifier

    data = load_digits()
    champion, _ = train_digits_classifier(hidden=(32,), epochs=15, seed=0, data=data)
    X, y = data.train
    rng = np.random.default_rng(0)
    wrong = np.where(rng.random(len(y)) < 0.7, (y + rng.integers(1, 10, len(y))) % 10, y)
    corrupted_data = type(data)(train=(X, wrong), val=data.val, test=data.test,
                                num_classes=data.num_classes, input_shape=data.input_shape)
    corrupted, _ = train_digits_classifier(hidden=(32,), epochs=15, seed=0, patience=None, data=corrupted_data)
    return champion, corrupted, data.val, data.test


BUILT_ONCE = (digits_classifier, gate_models)
