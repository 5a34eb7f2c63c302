"""A small seeded hyperparameter search with the tinytorch Trainer.

Random search over a grid (Bergstra & Bengio, 2012: for the same budget it finds configurations
as good as a full grid when few hyperparameters matter). The seed picks the trials and every
model's initialisation and batch order, so a search is reproducible bit for bit; each trial's
configuration, validation accuracy and time are kept, and become lineage of the version that
gets registered.
"""

import itertools
import time
from dataclasses import dataclass

import numpy as np

DEFAULT_SPACE = {"hidden": [(32,), (64,)], "lr": [0.003, 0.01], "batch_size": [32]}


@dataclass(frozen=True)
class SearchResult:
    """The best model, its configuration, and every trial (dicts with ``config``,
    ``val_accuracy``, ``best_epoch``, ``epochs_run``, ``seconds``), best first."""

    model: object
    config: dict
    trials: list


def sample_configs(space, trials, seed=0):
    """``trials`` distinct configurations drawn from the grid ``space`` ({name: [values]}), in
    a seeded order; the whole grid when it has no more than ``trials`` points."""
    if not space or any(len(values) == 0 for values in space.values()):
        raise ValueError(f"every hyperparameter needs at least one value; got {space}")
    names = sorted(space)
    grid = list(itertools.product(*(space[name] for name in names)))
    order = np.random.default_rng(seed).permutation(len(grid))[: max(1, int(trials))]
    return [dict(zip(names, grid[i])) for i in sorted(order)]


def hyperparameter_search(trainer_cls, data, space=None, trials=4, epochs=20, patience=4, seed=0):
    """Train one model per sampled configuration with ``trainer_cls`` (the tinytorch ``Trainer``
    or one with its signature) on ``data.train``, score it on ``data.val`` and keep the best
    (highest validation accuracy; ties go to fewer parameters)."""
    from tinytorch.core.layers import mlp
    from tinytorch.core.optimizers import Adam

    space = DEFAULT_SPACE if space is None else space
    n_in, n_classes = int(np.asarray(data.train[0]).shape[1]), int(np.max(data.train[1])) + 1
    results = []
    for config in sample_configs(space, trials, seed):
        started = time.perf_counter()
        model = mlp([n_in, *config.get("hidden", (64,)), n_classes], seed=seed)
        trainer = trainer_cls(model, Adam(model.parameters(), lr=config.get("lr", 0.005)),
                              batch_size=config.get("batch_size", 32), seed=seed)
        history = trainer.fit(data.train, data.val, epochs=epochs, patience=patience)
        val_accuracy = float(np.mean(model.predict(data.val[0]) == data.val[1]))
        trial = {"config": _jsonable(config), "val_accuracy": val_accuracy, "best_epoch": history.best_epoch,
                 "epochs_run": len(history), "num_parameters": int(model.num_parameters),
                 "seconds": time.perf_counter() - started}
        results.append((trial, model))
    results.sort(key=lambda item: (-item[0]["val_accuracy"], item[0]["num_parameters"]))
    best_trial, best_model = results[0]
    return SearchResult(best_model, dict(best_trial["config"]), [trial for trial, _ in results])


def _jsonable(config):
    return {k: list(v) if isinstance(v, tuple) else v for k, v in config.items()}
