"""Running a sequence of pipeline steps so that a failure leaves the system as it was.

A deployment is several steps (validate, register, start the new server, switch traffic, move the
alias) and any of them can fail. Argo Workflows and Kubeflow Pipelines record each step's inputs,
outputs and duration; the saga pattern adds the other half: a step that changed the world says
how to undo it, and when a later step fails the finished steps are undone in reverse order. That
is how "a failed deploy leaves the previous version serving" becomes a property, not a hope.
"""

import time
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Step:
    """A named step: ``run(context) -> dict`` of outputs added to the context; ``undo(context)``
    reverses what ``run`` changed (None: nothing to undo); ``inputs`` the context keys it reads."""

    name: str
    run: object
    undo: object = None
    inputs: tuple = ()


@dataclass
class StepRecord:
    """What happened to one step: ``status`` "ok", "failed", "skipped" or "undone" (it ran,
    then a later step failed and its undo ran), its timing, summaries of its inputs and outputs,
    and the error of a failed step (or of a failed undo)."""

    name: str
    status: str
    seconds: float = 0.0
    inputs: dict = field(default_factory=dict)
    outputs: dict = field(default_factory=dict)
    error: str | None = None


class StepFailure(RuntimeError):
    """A sequence of steps that failed; ``records`` say which step, why, and what was undone."""

    def __init__(self, message, records=()):
        super().__init__(message)
        self.records = list(records)


def summarize(value):
    """A small JSON-able description of a step's input or output, for the lineage record:
    models by type, parameter count and bytes; arrays by shape and dtype; numbers and short
    strings as they are; anything else by type."""
    if hasattr(value, "num_parameters") and hasattr(value, "nbytes"):
        return {"type": type(value).__name__, "num_parameters": int(value.num_parameters),
                "nbytes": int(value.nbytes)}
    if isinstance(value, np.ndarray):
        return {"type": "ndarray", "shape": list(value.shape), "dtype": str(value.dtype)}
    if isinstance(value, (bool, int, float)) or (isinstance(value, str) and len(value) <= 200):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(v, np.ndarray) for v in value):
        return [summarize(v) for v in value]
    if isinstance(value, dict) and all(isinstance(v, (bool, int, float, str, type(None))) for v in value.values()):
        return dict(value)
    return {"type": type(value).__name__}


def run_steps(steps, context, clock=time.perf_counter):
    """Run ``steps`` in order on the shared ``context`` dict; return one StepRecord per step.

    For each step:
    - if a key in ``step.inputs`` is missing from ``context`` the step fails without running,
      with an error naming the key (``"missing input 'key'"``);
    - otherwise ``outputs = step.run(context)`` (None counts as ``{}``) is merged into
      ``context`` and the step is recorded "ok" with ``seconds`` measured with ``clock``,
      ``inputs`` = {key: summarize(context[key])} taken before it ran and
      ``outputs`` = {key: summarize(value)};
    - an exception makes the step "failed" with ``error = "TypeName: message"`` (timed like an
      "ok" one); every later step is recorded "skipped" and never runs.
    After a failure (an exception or a missing input), the finished steps that have an ``undo``
    are undone in reverse order, ``step.undo(context)``, and their records become "undone". An undo that raises does not stop the other undos: its record
    stays "ok" and gets ``error = "undo failed: TypeName: message"``.
    Exceptions never escape: the caller reads the records (and re-raises if it wants to).
    Why: a deployment that crashes halfway must not leave traffic pointing at a half-started
    server; undoing in reverse order restores the world one layer at a time.
    """
    records, finished, failed = [], [], False
    for step in steps:
        if failed:
            records.append(StepRecord(step.name, "skipped"))
            continue
        missing = [key for key in step.inputs if key not in context]
        if missing:
            records.append(StepRecord(step.name, "failed", error=f"missing input {missing[0]!r}"))
            failed = True
            continue
        inputs = {key: summarize(context[key]) for key in step.inputs}
        started = clock()
        try:
            outputs = step.run(context) or {}
        except Exception as error:
            records.append(StepRecord(step.name, "failed", clock() - started, inputs,
                                      error=f"{type(error).__name__}: {error}"))
            failed = True
            continue
        context.update(outputs)
        record = StepRecord(step.name, "ok", clock() - started, inputs,
                            {key: summarize(value) for key, value in outputs.items()})
        records.append(record)
        finished.append((step, record))
    if failed:
        for step, record in reversed(finished):
            if step.undo is None:
                continue
            try:
                step.undo(context)
                record.status = "undone"
            except Exception as error:
                record.error = f"undo failed: {type(error).__name__}: {error}"
    return records
