import numpy as np
import pytest

from tinytorch.core.layers import mlp
from tinytorch.core.optimizers import SGD
from tinytorch.core.training import History, Trainer, train_digits_classifier


@pytest.fixture(scope="module")
def trained(digits):
    return train_digits_classifier(data=digits)


def test_reference_model_beats_95_percent(trained, digits):
    model, history = trained
    X, y = digits.test
    assert np.mean(model.predict(X) == y) > 0.95
    assert history.best_epoch is not None and len(history) >= history.best_epoch


def test_history_records_each_epoch(trained):
    _, history = trained
    assert history["epoch"] == list(range(1, len(history) + 1))
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert all(0 <= a <= 1 for a in history["val_accuracy"])
    with pytest.raises(KeyError, match="recorded"):
        history["precision"]


def test_same_seed_gives_bit_identical_weights(digits):
    first, _ = train_digits_classifier(epochs=3, seed=7, data=digits)
    second, _ = train_digits_classifier(epochs=3, seed=7, data=digits)
    other, _ = train_digits_classifier(epochs=3, seed=8, data=digits)
    for a, b in zip(first.parameters(), second.parameters()):
        assert a.data.tobytes() == b.data.tobytes()
    assert first.parameters()[0].data.tobytes() != other.parameters()[0].data.tobytes()


def test_early_stopping_stops_and_restores_best_weights(digits):
    model = mlp([64, 32, 10], seed=0)
    trainer = Trainer(model, SGD(model.parameters(), lr=0.5, momentum=0.9), seed=0)
    # a learning rate this high makes validation loss bounce: patience 1 must trigger
    history = trainer.fit(digits.train, digits.val, epochs=50, patience=1)
    assert history.stopped_early and len(history) < 50
    best = history.epochs[history.best_epoch - 1]
    assert trainer.evaluate(*digits.val)["loss"] == pytest.approx(best["val_loss"])


def test_evaluate_reports_loss_and_accuracy(trained, digits):
    model, _ = trained
    scores = Trainer(model).evaluate(*digits.test)
    assert scores["accuracy"] == pytest.approx(np.mean(model.predict(digits.test[0]) == digits.test[1]))
    assert 0 < scores["loss"] < 1


def test_patience_without_validation_is_refused(digits):
    with pytest.raises(ValueError, match="val="):
        Trainer(mlp([64, 10])).fit(digits.train, patience=3)


def test_history_to_dict():
    history = History(epochs=[{"epoch": 1, "train_loss": 0.5}], best_epoch=1)
    assert history.to_dict() == {"epochs": [{"epoch": 1, "train_loss": 0.5}], "best_epoch": 1,
                                 "stopped_early": False}
