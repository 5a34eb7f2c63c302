"""Handles: objects that stay where they live, and how the other end reaches them.

An object that is not plain data crosses as a handle, a number in its owner's
:class:`ObjectTable`. Which kind of handle a peer makes of the other end's objects is its
``handle_type``. The worker's :class:`Remote` forwards everything (calls, attributes, ``len``,
``in``, ``[]``, ``==``, iteration, ``with``) to the judge, whose objects they are. The judge's
:class:`Handle` forwards only calls and public attribute reads: comparing, hashing, testing the
truth of, measuring, iterating or printing a student's object raises :class:`NotPlainData` here,
without asking the worker, so an object that "equals anything" decides nothing. A handle sent back
resolves to the owner's own object, so identity survives a round trip.
"""

from __future__ import annotations

import itertools
import operator

from autograder.grading.protocol.errors import MAX_TEXT, NotPlainData

DUNDERS = {"len", "iter", "next", "getitem", "setitem", "delitem", "contains", "bool", "repr", "str",
           "eq", "ne", "lt", "le", "gt", "ge", "hash", "enter", "exit", "instancecheck", "subclasscheck"}


class ObjectTable:
    """The objects this end handed the other, by handle number: one object is always one handle."""

    def __init__(self):
        self._objects: dict[int, object] = {}
        self._ids: dict[int, int] = {}  # id(obj) -> handle
        self._next_ref = itertools.count(1)

    def ref_for(self, value) -> int:
        ref = self._ids.get(id(value))
        if ref is None or self._objects.get(ref) is not value:
            ref = next(self._next_ref)
            self._objects[ref], self._ids[id(value)] = value, ref
        return ref

    def __contains__(self, ref) -> bool:
        return ref in self._objects

    def __getitem__(self, ref):
        return self._objects[ref]


class by_reference:  # noqa: N801 - reads as a function at the call site: f(by_reference(d))
    """Send ``obj`` as a handle even if it is plain data, so the other end changes this very
    object (a dict a function must fill in place, say)."""

    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj


class Remote:
    """A handle to an object living on the other end of a :class:`Peer`."""

    __slots__ = ("_peer", "_id", "_label", "__weakref__")

    def __init__(self, peer, ref: int, label: str):  # peer: what it asks, by peer.request(op, ...)
        object.__setattr__(self, "_peer", peer)
        object.__setattr__(self, "_id", ref)
        object.__setattr__(self, "_label", label)

    def _ask(self, op, **payload):
        return self._peer.request(op, ref=self._id, **payload)

    def __call__(self, *args, **kwargs):
        return self._ask("call", args=list(args), kwargs=kwargs)

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)  # copy, pickle and friends probe for protocol methods
        return self._ask("getattr", name=name)

    def __setattr__(self, name, value):
        self._ask("setattr", name=name, value=value)

    def _dunder(self, name, *args):
        return self._ask("dunder", name=name, args=list(args))

    def __len__(self):
        return self._dunder("len")

    def __iter__(self):
        return self._dunder("iter")

    def __next__(self):
        return self._dunder("next")

    def __getitem__(self, key):
        return self._dunder("getitem", key)

    def __setitem__(self, key, value):
        self._dunder("setitem", key, value)

    def __delitem__(self, key):
        self._dunder("delitem", key)

    def __contains__(self, item):
        return self._dunder("contains", item)

    def __bool__(self):
        return self._dunder("bool")

    def __repr__(self):
        try:
            return self._dunder("repr")
        except Exception:  # noqa: BLE001 - a repr must not fail while a message is being built
            return f"<{self._label}>"

    def __str__(self):
        return self._dunder("str")

    def __eq__(self, other):
        return self._dunder("eq", other)

    def __ne__(self, other):
        return self._dunder("ne", other)

    def __lt__(self, other):
        return self._dunder("lt", other)

    def __le__(self, other):
        return self._dunder("le", other)

    def __gt__(self, other):
        return self._dunder("gt", other)

    def __ge__(self, other):
        return self._dunder("ge", other)

    def __hash__(self):
        return self._dunder("hash")

    def __enter__(self):
        return self._dunder("enter")

    def __exit__(self, exc_type, exc, traceback):
        return self._dunder("exit", exc_type is not None)

    def __instancecheck__(self, obj):
        return isinstance(obj, Remote) and self._dunder("instancecheck", obj)

    def __subclasscheck__(self, cls):
        return isinstance(cls, Remote) and self._dunder("subclasscheck", cls)


class Handle:
    """The judge's handle on an object living in the worker: it may be called and its public
    attributes read (each answer again plain data or a handle), nothing else. Every operation
    whose answer the object itself would decide (``==``, ``<``, ``bool``, ``hash``, ``len``,
    ``next``, ``in``, ``[]``, ``with``) raises :class:`NotPlainData` here, and ``repr``/``str``
    give the label the handle arrived with, so none of them runs student code. Iterating it reads
    every item at once, as plain data (``take``): a generator's items are its answer."""

    __slots__ = ("_peer", "_id", "_label", "__weakref__")

    def __init__(self, peer, ref: int, label: str):  # peer: what it asks, by peer.request(op, ...)
        object.__setattr__(self, "_peer", peer)
        object.__setattr__(self, "_id", ref)
        object.__setattr__(self, "_label", label)

    def __call__(self, *args, **kwargs):
        return self._peer.request("call", ref=self._id, args=list(args), kwargs=kwargs)

    def __getattr__(self, name):
        if name.startswith("_"):  # copy, pickle, numpy and pytest probe for protocol methods
            raise AttributeError(name)
        return self._peer.request("getattr", ref=self._id, name=name)

    def __setattr__(self, name, value):
        raise NotPlainData(f"a {self._label} of your code cannot be changed by the grader")

    def _refuse(self, *args, **kwargs):
        raise NotPlainData(f"your code returned a {self._label} where plain data was expected (None, a bool, "
                           "number, str, bytes, list, tuple, dict, NumPy array or a tinytorch type)")

    def __iter__(self):
        """Its items, all read at once as plain data (``take``): the worker iterates, never the judge."""
        return iter(take(self))

    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __bool__ = __len__ = __next__ = _refuse
    __contains__ = __getitem__ = __setitem__ = __delitem__ = __enter__ = __exit__ = __index__ = _refuse
    __int__ = __float__ = __complex__ = __array__ = __fspath__ = _refuse
    __hash__ = _refuse  # type: ignore[assignment]

    def __repr__(self):
        return f"<{self._label}>"

    def __format__(self, spec):
        return repr(self)

    __str__ = __repr__


def apply_dunder(obj, name: str, args: list):
    if name == "iter":
        return iter(obj)
    if name == "next":
        return next(obj)
    if name == "bool":
        return bool(obj)
    if name in ("repr", "str"):
        return (repr if name == "repr" else str)(obj)[:MAX_TEXT]
    if name == "len":
        return len(obj)
    if name == "hash":
        return hash(obj)
    if name == "contains":
        return args[0] in obj
    if name == "instancecheck":
        return isinstance(args[0], obj)
    if name == "subclasscheck":
        return issubclass(args[0], obj)
    if name == "enter":
        return obj.__enter__()
    if name == "exit":  # the other end's exception itself stays there: say only that there was one
        raised = Exception("raised on the other end")
        return obj.__exit__(*((Exception, raised, None) if args and args[0] else (None, None, None)))
    if name in ("getitem", "setitem", "delitem"):
        return getattr(obj, f"__{name}__")(*args)
    return getattr(operator, name)(obj, args[0])


def take(value, limit: int | None = None, iterator: bool = False) -> list:
    """The first ``limit`` items (all, if None) a student's iterable yields, as plain data: the
    one way a check iterates over an object of the worker. The worker iterates, and sends the
    items. ``iterator``: refuse (``TypeError``) an object that is not its own iterator, such as
    a list, whose items were all built before the first was asked for."""
    if not isinstance(value, Handle):
        if iterator:
            raise TypeError(f"a {type(value).__name__} came back where an iterator (a generator) was expected")
        return list(value)[:limit]
    return value._peer.request("take", ref=value._id, limit=limit, iterator=iterator)
