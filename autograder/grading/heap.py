"""The heap of a process that imports much once and then serves for long: a worker template, a
judge, a slot's nbgrader."""

import contextlib
import gc


@contextlib.contextmanager
def loaded_once():
    """Run a long-lived process's imports without the cycle collector, then freeze what they made.

    Imports leave almost no cyclic garbage, yet every collection during them walks all that they
    have made so far (about a tenth of a worker template's start). Frozen (``gc.freeze``), it is
    never walked again, and a forked child's collections leave those pages shared."""
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()
