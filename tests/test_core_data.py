import gzip

import numpy as np
import pytest

from tinytorch.core.data import DataLoader, load_digits, stratified_split


def test_digits_shapes_types_and_range(digits):
    sizes = [len(split[1]) for split in (digits.train, digits.val, digits.test)]
    assert sum(sizes) == 1797 and sizes == [1078, 360, 359]
    for X, y in (digits.train, digits.val, digits.test):
        assert X.dtype == np.float32 and X.shape[1] == 64 and y.dtype == np.int64
        assert X.min() >= 0 and X.max() <= 1
        assert set(np.unique(y)) == set(range(10))
    assert digits.input_shape == (64,) and digits.num_classes == 10


def test_split_is_deterministic_disjoint_and_stratified(digits):
    again = load_digits()
    np.testing.assert_array_equal(digits.test[0], again.test[0])
    rows = {tuple(row) for row in digits.train[0]}
    overlap = sum(tuple(row) in rows for row in digits.test[0])
    assert overlap == 0
    train_share = np.bincount(digits.train[1]) / np.bincount(np.concatenate(
        [digits.train[1], digits.val[1], digits.test[1]]))
    assert np.all(np.abs(train_share - 0.6) < 0.01)


def test_stratified_split_partitions_the_rows():
    labels = np.repeat(np.arange(3), [10, 20, 30])
    parts = stratified_split(labels, (0.5, 0.3, 0.2), seed=4)
    assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(60))
    assert [len(p) for p in parts] == [30, 18, 12]
    assert not np.array_equal(parts[0], stratified_split(labels, (0.5, 0.3, 0.2), seed=5)[0])


def test_loader_batches_cover_every_row_once():
    X, y = np.arange(10).reshape(10, 1), np.arange(10)
    loader = DataLoader(X, y, batch_size=4, shuffle=True, seed=3)
    batches = list(loader)
    assert len(loader) == 3 and [len(b[1]) for b in batches] == [4, 4, 2]
    seen = np.concatenate([b[1] for b in batches])
    assert sorted(seen) == list(range(10)) and not np.array_equal(seen, np.arange(10))
    assert all(np.array_equal(bx[:, 0], by) for bx, by in batches)
    assert len(DataLoader(X, y, batch_size=4, drop_last=True)) == 2


def test_loader_shuffle_is_seeded_and_changes_per_epoch():
    X, y = np.zeros((20, 1)), np.arange(20)

    def two_epochs(seed):
        loader = DataLoader(X, y, 5, shuffle=True, seed=seed)
        return [np.concatenate([labels for _, labels in loader]) for _ in range(2)]

    first, second = two_epochs(0)
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(two_epochs(0)[1], second)
    assert not np.array_equal(two_epochs(1)[0], first)


def test_loader_rejects_mismatched_input():
    with pytest.raises(ValueError, match="same number of rows"):
        DataLoader(np.zeros((3, 2)), np.zeros(2))


def test_corrupt_digits_file_names_the_file(tmp_path):
    path = tmp_path / "digits.csv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("1,2,3\n")
    with pytest.raises(ValueError, match=f"{path}.*65 columns"):
        load_digits(path)
