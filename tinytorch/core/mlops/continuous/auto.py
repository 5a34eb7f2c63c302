"""``AutoRetrainer``: the continuous-learning loop over a stream of labelled batches.

Each batch is scored by the deployed model before anything learns from it (progressive
validation, as River evaluates online learners), handed to the learner, and followed by one
``retrain_if_needed`` step. The history is what the stream plot draws.
"""

from dataclasses import dataclass

EVENTS = ("refused", "promoted", "rolled_back")


@dataclass(frozen=True)
class StreamStep:
    """One batch of the stream and what the loop did after it."""

    index: int
    rows: int
    accepted: int
    quarantined: int
    accuracy: float | None   # the deployed model's accuracy on this batch, before learning
    drifted: bool | None     # which population wrote it, when the stream says so
    action: str
    reason: str
    champion: str | None     # the champion version after the step


class AutoRetrainer:
    """Feed batches to a ``ContinuousLearner`` and let it retrain, promote and roll back.

    >>> auto = AutoRetrainer(learner)                    # doctest: +SKIP
    >>> history = auto.run(scenario.stream)              # doctest: +SKIP
    >>> auto.events()                                    # doctest: +SKIP
    """

    def __init__(self, learner):
        self.learner = learner
        self.history = []

    def step(self, X, y, drifted=None):
        """Process one labelled batch; returns its ``StreamStep``."""
        batch = self.learner.add_training_data(X, y)
        decision = self.learner.retrain_if_needed()
        deployment = self.learner.deployment
        record = StreamStep(len(self.history), len(batch.y) + len(batch.quarantined), len(batch.y),
                            len(batch.quarantined), self.learner.last_accuracy, drifted,
                            decision.action, decision.reason,
                            None if deployment is None else deployment.version)
        self.history.append(record)
        return record

    def run(self, batches):
        """Process every batch (``(X, y)`` pairs or objects with ``X``, ``y`` and ``drifted``);
        returns the history."""
        for batch in batches:
            if isinstance(batch, tuple):
                self.step(*batch)
            else:
                self.step(batch.X, batch.y, getattr(batch, "drifted", None))
        return self.history

    def events(self):
        """The steps where the gate refused, a model was promoted, or one was rolled back."""
        return [step for step in self.history if step.action in EVENTS]
