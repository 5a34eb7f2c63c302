"""What the other end may do with the objects this end handed it, and doing it within those bounds.

The judge's policy lets the worker call what it was given and read public attributes only (no
``__globals__`` walk from a callback to the judge's modules); the worker's lets the judge do
anything with the submission's objects and look up the notebook's names.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Callable

from autograder.grading.protocol.errors import ProtocolError
from autograder.grading.protocol.handles import DUNDERS, ObjectTable, apply_dunder


@dataclasses.dataclass
class Policy:
    """What the peer may ask of the objects this end handed it."""

    public_only: bool = False  # getattr: refuse names that start with "_"
    setattr: bool = True
    lookup: dict | None = None  # the namespace "lookup" reads, or None to refuse lookups

    def perform(self, op: str, message: dict, objects: ObjectTable, decode: Callable):
        """Carry out the other end's request ``op`` (``message``) on ``objects``, within this policy;
        ``decode`` rebuilds the request's values."""
        if op == "lookup":
            if self.lookup is None:
                raise PermissionError("lookup is not served here")
            name = str(message.get("name"))
            if name not in self.lookup:
                raise NameError(name)
            return self.lookup[name]
        ref = message.get("ref")
        if ref not in objects:
            raise ProtocolError(f"{op} on an unknown handle {ref!r}")
        target = objects[ref]
        if op == "take":
            limit, iterator = decode(message.get("limit")), decode(message.get("iterator"))
            items = iter(target)
            if iterator and items is not target:
                raise TypeError(f"a {type(target).__name__} came back where an iterator (a generator) was expected")
            return list(itertools.islice(items, limit if type(limit) is int else None))
        if op == "call":
            if not callable(target):
                raise TypeError(f"{type(target).__name__} object is not callable")
            return target(*decode(message.get("args", [])), **decode(message.get("kwargs", {"$": "dict", "v": []})))
        name = decode(message.get("name"))
        if not isinstance(name, str):
            raise ProtocolError("an attribute name must be a string")
        if op == "getattr":
            if self.public_only and name.startswith("_"):
                raise AttributeError(f"{name!r} is not available to the other end")
            return getattr(target, name)
        if op == "setattr":
            if not self.setattr:
                raise PermissionError("setting attributes is not served here")
            return setattr(target, name, decode(message.get("value")))
        if op == "dunder" and name in DUNDERS:
            return apply_dunder(target, name, decode(message.get("args", [])))
        raise ProtocolError(f"unknown request {op!r}")
