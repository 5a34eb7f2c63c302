"""A realistic, seeded drift scenario on the 8x8 digits: a new population of writers.

From some batch on, the digits come from writers who slant their strokes to the right and
press more lightly (a different school, a different pen, a different scanner): each image is
sheared by a slant drawn per image from ``slant`` and its ink scaled by a pen pressure drawn from
``pen``. Labels stay correct; only the features move, so a model that memorised the old
population loses accuracy although nothing "broke". Everything is drawn from one seed.

The split keeps every evaluation honest:

* the deployed model trains on ``champion_train`` (the canonical train split minus the rows held
  back for the clean part of the stream) and stops early on ``golden`` (the val split);
* the stream: ``clean_batches`` batches of held-back clean training rows, then
  ``drifted_batches`` batches of new-writer versions of training images (drawn with
  replacement when the stream is longer than the split: each copy has its own slant and pen);
* ``test_before`` / ``test_after``: the test split as written by the old / new writers, never
  streamed, never trained on.
"""

from dataclasses import dataclass

import numpy as np

from tinytorch.core.data import SplitDataset, load_digits
from tinytorch.core.training import accuracy, train_digits_classifier

from .auto import AutoRetrainer
from .learner import ContinuousLearner
from .triggers import RetrainPolicy

SIDE = 8
# The triggers the scenario runs with: besides drift and decay, retrain whenever 300 new labelled
# rows have arrived (six batches), so the model keeps learning the new writers after the first
# promotion; the gate decides whether each retrain is worth deploying.
SCENARIO_POLICY = RetrainPolicy(new_data_samples=300)


def slant_images(X, amounts):
    """Shear each 8x8 image (rows of ``X``) to the right by ``amounts`` (one per image): row r
    moves ``round(amount * (3.5 - r))`` pixels, so the top leans right; pixels shifted out are
    lost and those shifted in are blank."""
    images = np.asarray(X, dtype=np.float32).reshape(-1, SIDE, SIDE)
    shifts = np.rint(np.asarray(amounts)[:, None] * (SIDE / 2 - 0.5 - np.arange(SIDE))).astype(int)
    source = np.arange(SIDE)[None, None, :] - shifts[:, :, None]
    inside = (source >= 0) & (source < SIDE)
    moved = np.take_along_axis(images, np.clip(source, 0, SIDE - 1), axis=2)
    return np.where(inside, moved, 0).reshape(len(images), SIDE * SIDE).astype(np.float32)


def new_writers(X, seed, slant=(0.3, 0.5), pen=(0.5, 0.7)):
    """``X`` as written by the new population: per-image slant and pen pressure (lighter ink),
    both drawn uniformly from the given ranges with ``numpy.random.default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    amounts = rng.uniform(*slant, size=len(X))
    pressure = rng.uniform(*pen, size=len(X)).astype(np.float32)
    return slant_images(X, amounts) * pressure[:, None]


@dataclass(frozen=True)
class StreamBatch:
    """One batch of labelled feedback; ``drifted`` says which population wrote it."""

    X: np.ndarray
    y: np.ndarray
    drifted: bool


@dataclass(frozen=True)
class DriftScenario:
    champion_train: tuple
    golden: tuple
    test_before: tuple
    test_after: tuple
    stream: list

    def train_champion(self, hidden=(128,), seed=0):
        """The deployed model: ``train_digits_classifier`` on ``champion_train`` (early stopping
        on ``golden``). Returns ``(model, history)``."""
        data = SplitDataset(train=self.champion_train, val=self.golden, test=self.test_before,
                            num_classes=10, input_shape=(SIDE * SIDE,))
        return train_digits_classifier(hidden=hidden, seed=seed, data=data)


def writer_drift_scenario(batch_size=50, clean_batches=5, drifted_batches=30, recovered_batches=0,
                          seed=0, data=None):
    """Build the scenario from the shipped digits (see the module docstring). With
    ``recovered_batches`` the old writers return after the drifted batches (a temporary drift,
    e.g. one pilot school), with further held-back clean rows."""
    data = load_digits() if data is None else data
    X, y = data.train
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    n_clean = (clean_batches + recovered_batches) * batch_size
    if n_clean >= len(y) // 2:
        raise ValueError(f"{clean_batches + recovered_batches} clean batches of {batch_size} rows "
                         f"would hold back half or more of the {len(y)} training rows; use fewer "
                         "or smaller batches")
    held_back, kept = order[:n_clean], np.sort(order[n_clean:])
    n_drifted = drifted_batches * batch_size
    drifted_rows = rng.choice(len(y), n_drifted, replace=n_drifted > len(y))
    drifted_X = new_writers(X[drifted_rows], seed=seed + 1)
    clean = [StreamBatch(X[rows], y[rows], False)
             for rows in np.split(held_back, clean_batches + recovered_batches)]
    drifted = [StreamBatch(bx, by, True) for bx, by in zip(np.split(drifted_X, drifted_batches),
                                                           np.split(y[drifted_rows], drifted_batches))]
    stream = clean[:clean_batches] + drifted + clean[clean_batches:]
    return DriftScenario(champion_train=(X[kept], y[kept]), golden=data.val, test_before=data.test,
                         test_after=(new_writers(data.test[0], seed=seed + 2), data.test[1]),
                         stream=stream)


@dataclass(frozen=True)
class ScenarioRun:
    """A finished run: the learner and loop (history, audit log, registry) and the figures, all
    measured on the test split, which is never streamed: ``before`` (old writers, deployed
    model), ``drifted`` (new writers, deployed model, no retraining), ``retrained`` (new writers,
    champion at the end of the stream), ``retrained_old_writers`` (old writers, same champion)."""

    learner: object
    auto: object
    before: float
    drifted: float
    retrained: float
    retrained_old_writers: float


def run_scenario(scenario, registry=None, hidden=(128,), seed=0, **learner_options):
    """Train the deployed model, stream ``scenario`` through a ``ContinuousLearner`` (golden set,
    replay of the deployed model's training data, ``SCENARIO_POLICY`` unless overridden) and
    measure the figures. Deterministic for a given scenario and seed."""
    model, _ = scenario.train_champion(hidden=hidden, seed=seed)
    learner_options.setdefault("policy", SCENARIO_POLICY)
    learner = ContinuousLearner(model, registry, golden=scenario.golden,
                                replay=scenario.champion_train, **learner_options)
    auto = AutoRetrainer(learner)
    auto.run(scenario.stream)

    def score(m, data):
        return accuracy(m.predict(data[0]), data[1])

    return ScenarioRun(learner, auto, score(model, scenario.test_before), score(model, scenario.test_after),
                       score(learner.champion, scenario.test_after),
                       score(learner.champion, scenario.test_before))
