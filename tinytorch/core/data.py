"""Data: a mini-batch loader and the 8x8 handwritten digits shipped with the package.

The digits are the UCI "Optical Recognition of Handwritten Digits" test set as distributed by
scikit-learn (1,797 images, 8x8 pixels with values 0..16, ten classes); see
``tinytorch/datasets/README.md`` for source and licence.
"""

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DIGITS_PATH = Path(__file__).resolve().parent.parent / "datasets" / "digits.csv.gz"
DIGITS_FEATURES = 64
DIGITS_CLASSES = 10
DIGITS_MAX_PIXEL = 16.0


class DataLoader:
    """Iterate over ``(X_batch, y_batch)`` mini-batches of ``(X, y)``.

    With ``shuffle=True`` each pass (epoch) visits the rows in a new order drawn from a generator
    seeded once with ``seed``: the same seed gives the same sequence of epochs, run after run.
    """

    def __init__(self, X, y, batch_size=32, shuffle=False, seed=0, drop_last=False):
        X, y = np.asarray(X), np.asarray(y)
        if len(X) != len(y):
            raise ValueError(f"X and y must have the same number of rows, got {len(X)} and {len(y)}")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
        self.X, self.y = X, y
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self._rng = np.random.default_rng(seed)

    def __len__(self):
        full, rest = divmod(len(self.X), self.batch_size)
        return full if self.drop_last or rest == 0 else full + 1

    def __iter__(self):
        order = self._rng.permutation(len(self.X)) if self.shuffle else np.arange(len(self.X))
        for batch in range(len(self)):
            rows = order[batch * self.batch_size : (batch + 1) * self.batch_size]
            yield self.X[rows], self.y[rows]


@dataclass(frozen=True)
class SplitDataset:
    """Train, validation and test splits, each an ``(X, y)`` tuple."""

    train: tuple
    val: tuple
    test: tuple
    num_classes: int
    input_shape: tuple

    def __repr__(self):
        sizes = ", ".join(f"{name}={len(getattr(self, name)[1])}" for name in ("train", "val", "test"))
        return f"SplitDataset({sizes}, input_shape={self.input_shape}, classes={self.num_classes})"


def read_digits_csv(path=DIGITS_PATH):
    """Read the digits file: one image per line, 64 pixel values 0..16 then the label 0..9.
    Returns ``(pixels float32 (n, 64), labels int64 (n,))`` or raises a ValueError naming the file."""
    path = Path(path)
    try:
        with gzip.open(path, "rt") as handle:
            table = np.loadtxt(handle, delimiter=",", dtype=np.int64, ndmin=2)
    except (OSError, EOFError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read the digits CSV ({exc})") from exc
    if table.shape[1] != DIGITS_FEATURES + 1:
        raise ValueError(
            f"{path}: expected {DIGITS_FEATURES + 1} columns (64 pixels and a label), "
            f"got {table.shape[1]}"
        )
    pixels, labels = table[:, :-1], table[:, -1]
    if pixels.min() < 0 or pixels.max() > DIGITS_MAX_PIXEL:
        raise ValueError(f"{path}: pixel values must be in 0..16")
    if labels.min() < 0 or labels.max() >= DIGITS_CLASSES:
        raise ValueError(f"{path}: labels must be in 0..9")
    return pixels.astype(np.float32), labels


def stratified_split(labels, fractions=(0.6, 0.2, 0.2), seed=0):
    """Row indices of each split such that every class appears in each split in the given
    proportions. Deterministic for a given seed; indices are returned in ascending order."""
    labels = np.asarray(labels)
    if not np.isclose(sum(fractions), 1.0) or min(fractions) < 0:
        raise ValueError(f"split fractions must be non-negative and sum to 1, got {fractions}")
    rng = np.random.default_rng(seed)
    bounds = np.cumsum(fractions)[:-1]
    splits = [[] for _ in fractions]
    for label in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == label))
        cuts = np.round(bounds * len(rows)).astype(int)
        for split, part in zip(splits, np.split(rows, cuts)):
            split.append(part)
    return [np.sort(np.concatenate(split)) for split in splits]


def load_digits(path=DIGITS_PATH, seed=0):
    """The 8x8 digits with a deterministic stratified 60/20/20 train/val/test split.

    X is float32 scaled to [0, 1] (pixel / 16), y int64 class ids. ``seed`` picks the split;
    the default gives the course's canonical split (1,078 / 360 / 359 rows).
    """
    pixels, labels = read_digits_csv(path)
    X = pixels / np.float32(DIGITS_MAX_PIXEL)
    train, val, test = stratified_split(labels, (0.6, 0.2, 0.2), seed=seed)
    return SplitDataset(
        train=(X[train], labels[train]),
        val=(X[val], labels[val]),
        test=(X[test], labels[test]),
        num_classes=DIGITS_CLASSES,
        input_shape=(DIGITS_FEATURES,),
    )
