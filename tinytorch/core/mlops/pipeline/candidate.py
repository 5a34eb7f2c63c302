"""Candidate: a model on its way to release, carried together with where it came from and
what the release gates measured on it.

The pipeline's steps take and return candidates (training makes one, compression and
optimisation derive one, validation attaches its report), so lineage and reports travel with
the model they describe. Keeping them in tables keyed by ``id(model)`` instead is unsafe in
Python: an id is a memory address, reused as soon as the model it named is freed, and a fresh
untrained model was once released on a freed model's passing report.
"""

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Candidate:
    """``model`` and its provenance: ``steps`` that produced it (``("train", "compress",
    "optimize")``; empty for a model from outside the pipeline), ``trained`` the float model it
    derives from and ``replay`` that model's training rows (what continuous learning starts
    from), the search's ``config`` and ``trials``, the ``training_data`` registered as its
    lineage, ``challenger`` (the continuous learner's registry version it was blessed as), and
    ``validation``: the ``ValidationReport`` of the release gates on exactly this model, or None.

    ``predict`` and ``nbytes`` read through to the model, so a candidate can be inspected like one.
    """

    model: object
    steps: tuple = ()
    trained: object = None
    replay: tuple | None = None
    config: dict = field(default_factory=dict)
    trials: tuple = ()
    training_data: tuple | None = None
    challenger: str | None = None
    validation: object = None

    @classmethod
    def of(cls, model):
        """``model`` as a candidate: itself if it already is one, else one with no provenance."""
        if isinstance(model, cls):
            return model
        if not hasattr(model, "predict"):
            raise TypeError(f"expected a model (with predict) or a Candidate, got {type(model).__name__}")
        return cls(model)

    def derive(self, model, step):
        """The candidate ``step`` made from this one: same origin, no report yet (the new model
        has not been measured)."""
        return replace(self, model=model, steps=(*self.steps, step), validation=None)

    def validated(self, report):
        """This candidate with the release gates' ``report`` on it."""
        return replace(self, validation=report)

    @property
    def produced_by(self):
        return ">".join(self.steps) or "external"

    def predict(self, X):
        return self.model.predict(X)

    @property
    def nbytes(self):
        return self.model.nbytes
