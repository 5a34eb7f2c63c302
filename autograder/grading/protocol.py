"""The data-only protocol between the trusted judge and the sandboxed worker.

Both ends import this module; the worker gets a copy of it and nothing else of the grader. A
message is one line of JSON behind a 10-digit length. Values cross as plain data: ``None``,
numbers, strings, bytes, lists, tuples, dicts, sets, NumPy arrays and scalars of numeric dtypes,
dataclasses and enums defined in ``tinytorch`` (rebuilt from their fields), and ``tinytorch``
models (as model-file bytes). Nothing is ever unpickled or evaluated.

A value whose type is a subclass of one of these crosses as its plain base (a ``str`` subclass as
a ``str``, a ``NamedTuple`` as a tuple rebuilt with the same field names, an ``ndarray`` subclass as
an ``ndarray``): what arrives is always of the exact plain type, decoded from JSON by this end.

Anything else stays where it lives and crosses as a handle. Which kind of handle a peer makes is
its ``handle_type``. The worker's :class:`Remote` forwards everything (calls, attributes, ``len``,
``in``, ``[]``, ``==``, iteration, ``with``) to the judge, whose objects they are. The judge's
:class:`Handle` forwards only calls and public attribute reads: comparing, hashing, testing the
truth of, measuring, iterating or printing a student's object raises :class:`NotPlainData` here,
without asking the worker, so an object that "equals anything" decides nothing. A handle sent back
resolves to the owner's own object, so identity survives a round trip. Exceptions cross as their
type's name, its base classes' names, the message and the exception's plain-data attributes.

A message is at most ``MAX_MESSAGE`` bytes. A bigger answer is refused where it is made (the
caller gets :class:`AnswerTooLarge`); a peer that sends one anyway has it skipped unread, and the
call that was waiting gets :class:`AnswerTooLarge` too.

Each end serves the other's requests while it waits for a reply, so a judge can hand the worker a
callback and the worker can call it in the middle of a call. What a peer may do with the objects
it was handed is the owner's ``Policy``: the judge's lets the worker call what it was given and
read public attributes only (no ``__globals__`` walk from a callback to the judge's modules).
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import importlib
import itertools
import json
import math
import operator
import os
import pathlib
import select
import threading
import time

import numpy as np

HEADER = 10  # digits of the length prefix
MAX_MESSAGE = 16 * 2**20  # bytes of one message's body
MAX_TEXT = 4000  # characters of an exception message that cross
NUMERIC_KINDS = "biufcUS"  # array dtypes that cross by value: bool, ints, floats, complex, text
DUNDERS = {"len", "iter", "next", "getitem", "setitem", "delitem", "contains", "bool", "repr", "str",
           "eq", "ne", "lt", "le", "gt", "ge", "hash", "enter", "exit", "instancecheck", "subclasscheck"}


class ProtocolError(Exception):
    """The other end sent something this protocol does not allow, or broke the connection."""


class PeerGone(ProtocolError):
    """The other end closed the connection or died."""


class AnswerTooLarge(ProtocolError):
    """An answer bigger than ``MAX_MESSAGE`` bytes: refused, not read."""


class NotPlainData(TypeError):
    """A student's object (a :class:`Handle`) was used where only plain data may be."""


class CallTimeout(Exception):
    """A call did not return before its deadline."""


class RemoteError(Exception):
    """An exception raised on the other end whose type this end does not know."""


@dataclasses.dataclass
class Policy:
    """What the peer may ask of the objects this end handed it."""

    public_only: bool = False  # getattr: refuse names that start with "_"
    setattr: bool = True
    lookup: dict | None = None  # the namespace "lookup" reads, or None to refuse lookups


class by_reference:  # noqa: N801 - reads as a function at the call site: f(by_reference(d))
    """Send ``obj`` as a handle even if it is plain data, so the other end changes this very
    object (a dict a function must fill in place, say)."""

    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj


class Remote:
    """A handle to an object living on the other end of a :class:`Peer`."""

    __slots__ = ("_peer", "_id", "_label", "__weakref__")

    def __init__(self, peer: "Peer", ref: int, label: str):
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

    def __init__(self, peer: "Peer", ref: int, label: str):
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


def _apply_dunder(obj, name: str, args: list):
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


def _library_type(path: str):
    """The ``tinytorch`` class named ``module:qualname``, or None if it is not one."""
    module_name, _, qualname = path.partition(":")
    if not (module_name == "tinytorch" or module_name.startswith("tinytorch.")) or "." in qualname:
        return None
    try:
        cls = getattr(importlib.import_module(module_name), qualname, None)
    except Exception:  # noqa: BLE001 - a student edition may lack a module: then it is a handle
        return None
    return cls if isinstance(cls, type) else None


def _type_path(cls) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _is_library(cls) -> bool:
    return _library_type(_type_path(cls)) is cls


def _is_model(obj) -> bool:
    try:
        from tinytorch.core.layers import Module
    except ImportError:
        return False
    return isinstance(obj, Module)


class _NamedTuple:
    """A ``NamedTuple`` on its way out: its class name, field names and values."""

    __slots__ = ("name", "fields", "values")

    def __init__(self, name, fields, values):
        self.name, self.fields, self.values = name, fields, values


def _plain_base(value):
    """``value`` as its plain base type when its type subclasses one (a ``str`` subclass as a
    ``str``, an ``ndarray`` subclass as an ``ndarray``); the value itself otherwise. The base
    type's own methods make the copy, so nothing the subclass overrides runs."""
    cls = type(value)
    if cls in _PLAIN or value is None or isinstance(value, np.generic):  # NumPy scalars cross as such
        return value
    if isinstance(value, tuple) and isinstance(getattr(cls, "_fields", None), tuple):
        return _NamedTuple(cls.__name__, tuple(str(f) for f in cls._fields), tuple.__getitem__(value, slice(None)))
    for base, copy in _BASES:
        if isinstance(value, base):
            return copy(value)
    return value


_PLAIN = {bool, int, float, str, bytes, list, tuple, dict, set, frozenset, np.ndarray}
_BASES = ((bool, bool.__bool__), (int, int.__int__), (float, float.__float__), (str, str.__str__),
          (bytes, bytes.__bytes__ if hasattr(bytes, "__bytes__") else bytes),
          (list, lambda v: list.__getitem__(v, slice(None))), (tuple, lambda v: tuple.__getitem__(v, slice(None))),
          (dict, lambda v: {k: dict.__getitem__(v, k) for k in dict.keys(v)}),
          (np.ndarray, lambda v: v.view(np.ndarray)))


def _namedtuple(name: str, fields) -> type:
    """A judge-made ``NamedTuple`` class with these field names (its ``==`` is the tuple's)."""
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise ProtocolError("a NamedTuple's fields must be a list of names")
    key = (name if name.isidentifier() else "Result", tuple(fields))
    if key not in _NAMEDTUPLES:
        import collections

        try:
            _NAMEDTUPLES[key] = collections.namedtuple(*key)
        except ValueError as error:
            raise ProtocolError(f"a NamedTuple with bad field names: {error}") from None
    return _NAMEDTUPLES[key]


_NAMEDTUPLES: dict = {}


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


class Peer:
    """One end of the connection: encodes, sends, receives, and serves the other end's requests.

    ``handle_type`` is what an object of the other end becomes here: the inert :class:`Handle`
    by default (the judge), the forwarding :class:`Remote` where the other end is trusted (the
    worker, whose handles are the judge's objects)."""

    handle_type: type = Handle

    def __init__(self, rfd: int, wfd: int, policy: Policy | None = None):
        self.rfd, self.wfd = rfd, wfd
        self.policy = policy or Policy()
        self.lock = threading.RLock()
        self.deadline: float | None = None  # monotonic time after which a call raises CallTimeout
        self._buffer = bytearray()
        self._seq = itertools.count(1)
        self._objects: dict[int, object] = {}
        self._ids: dict[int, int] = {}  # id(obj) -> handle, so one object is always one handle
        self._next_ref = itertools.count(1)

    # -- values ----------------------------------------------------------------------------------
    def encode(self, value, depth: int = 0):
        if depth > 64:
            raise ProtocolError("a value nested more than 64 levels deep cannot be sent")
        value = _plain_base(value)
        if value is None or type(value) in (bool, str, int):
            return value
        if type(value) is float:
            return value if math.isfinite(value) else {"$": "float", "v": repr(value)}
        if isinstance(value, (Remote, Handle)) and value._peer is self:
            return {"$": "yours", "id": value._id}
        if type(value) is by_reference:
            return {"$": "ref", "id": self._handle(value.obj), "label": f"{type(value.obj).__name__} object"}
        if type(value) is _NamedTuple:
            return {"$": "nt", "name": value.name, "fields": list(value.fields),
                    "v": [self.encode(v, depth + 1) for v in value.values]}
        if type(value) in (list, tuple, set, frozenset):
            items = [self.encode(v, depth + 1) for v in value]
            return items if type(value) is list else {"$": type(value).__name__, "v": items}
        if type(value) is slice:
            return {"$": "slice", "v": [self.encode(v, depth + 1) for v in (value.start, value.stop, value.step)]}
        if type(value) is dict:
            return {"$": "dict", "v": [[self.encode(k, depth + 1), self.encode(v, depth + 1)] for k, v in value.items()]}
        if type(value) in (bytes, bytearray, memoryview):
            return {"$": type(value).__name__, "v": base64.b64encode(value).decode()}
        if type(value) is np.ndarray and value.dtype.kind in NUMERIC_KINDS:
            return {"$": "nd", "dtype": value.dtype.str, "shape": list(value.shape),
                    "v": base64.b64encode(np.ascontiguousarray(value).tobytes()).decode()}
        if isinstance(value, np.generic) and value.dtype.kind in NUMERIC_KINDS:
            return {"$": "np", "dtype": value.dtype.str, "v": base64.b64encode(value.tobytes()).decode()}
        cls = type(value)
        if isinstance(value, enum.Enum) and _is_library(cls):
            return {"$": "enum", "type": _type_path(cls), "name": value.name}
        if dataclasses.is_dataclass(value) and not isinstance(value, type) and _is_library(cls):
            return {"$": "dc", "type": _type_path(cls),
                    "v": {f.name: self.encode(getattr(value, f.name), depth + 1) for f in dataclasses.fields(value)}}
        if isinstance(value, pathlib.PurePath):
            return {"$": "path", "v": str(value)}
        if _is_model(value):
            from tinytorch.core.serialization import model_to_bytes

            return {"$": "model", "v": base64.b64encode(model_to_bytes(value)).decode()}
        if isinstance(value, type(os)):
            raise ProtocolError(f"a module ({value.__name__}) cannot be sent")
        return {"$": "ref", "id": self._handle(value), "label": f"{cls.__name__} object"[:80]}

    def _handle(self, value) -> int:
        ref = self._ids.get(id(value))
        if ref is None or self._objects.get(ref) is not value:
            ref = next(self._next_ref)
            self._objects[ref], self._ids[id(value)] = value, ref
        return ref

    def decode(self, data):
        if data is None or isinstance(data, (bool, int, float, str)):
            return data
        if isinstance(data, list):
            return [self.decode(v) for v in data]
        if not isinstance(data, dict) or not isinstance(data.get("$"), str):
            raise ProtocolError(f"not a value of this protocol: {str(data)[:80]}")
        tag, v = data["$"], data.get("v")
        if tag in ("tuple", "set", "frozenset"):
            return {"tuple": tuple, "set": set, "frozenset": frozenset}[tag](self.decode(x) for x in v)
        if tag == "slice":
            return slice(*(self.decode(x) for x in v))
        if tag == "dict":
            return {self.decode(k): self.decode(x) for k, x in v}
        if tag == "float":
            return float(v if v in ("nan", "inf", "-inf") else "nan")
        if tag in ("bytes", "bytearray", "memoryview"):
            data = base64.b64decode(v)
            return data if tag == "bytes" else bytearray(data) if tag == "bytearray" else memoryview(data)
        if tag in ("nd", "np"):
            dtype = np.dtype(data["dtype"])
            if dtype.kind not in NUMERIC_KINDS:
                raise ProtocolError(f"arrays of dtype {dtype} do not cross")
            flat = np.frombuffer(base64.b64decode(v), dtype=dtype)
            return flat[0] if tag == "np" else flat.reshape(data["shape"]).copy()
        if tag in ("enum", "dc"):
            cls = _library_type(data["type"])
            if cls is None:
                raise ProtocolError(f"{data['type']} is not a tinytorch type")
            if tag == "enum":
                return cls[data["name"]]
            obj = cls.__new__(cls)
            names = {f.name for f in dataclasses.fields(cls)}
            for name, field in v.items():
                if name in names:
                    object.__setattr__(obj, name, self.decode(field))
            return obj
        if tag == "path":  # a path the other end names: pure, so it opens nothing by itself here
            return pathlib.PurePosixPath(str(v)) if self.handle_type is Handle else pathlib.Path(str(v))
        if tag == "nt":
            return _namedtuple(str(data.get("name")), data.get("fields"))(*(self.decode(x) for x in v))
        if tag == "model":
            from tinytorch.core.serialization import model_from_bytes

            return model_from_bytes(base64.b64decode(v), source="a model sent by the other end")
        if tag == "yours":
            if data["id"] not in self._objects:
                raise ProtocolError(f"no object with handle {data['id']}")
            return self._objects[data["id"]]
        if tag == "ref":
            return self.handle_type(self, int(data["id"]), str(data.get("label", "remote object"))[:80])
        raise ProtocolError(f"unknown value tag {tag!r}")

    def encode_error(self, error: BaseException) -> dict:
        attrs = {}
        for name, value in vars(error).items() if hasattr(error, "__dict__") else ():
            if not name.startswith("_") and isinstance(value, (int, float, str, bool, type(None))):
                attrs[name] = value
        cls = type(error)
        args = [a[:MAX_TEXT] if isinstance(a, str) else a for a in error.args
                if isinstance(a, (int, float, str, bool, type(None)))]
        return {"type": cls.__name__, "path": _type_path(cls), "bases": [c.__name__ for c in cls.__mro__[1:]],
                "message": str(error)[:MAX_TEXT], "args": args if len(args) == len(error.args) else None,
                "attrs": attrs}

    @staticmethod
    def decode_error(info: dict) -> BaseException:
        """The exception to raise here for an error raised there: the library's own type when it
        is a ``tinytorch`` exception, the nearest built-in type otherwise (with the original name)."""
        error = Peer._decode_error(info)
        try:
            error.raised_by_peer = True  # the judge's feedback abstracts such messages
        except AttributeError:
            pass
        return error

    @staticmethod
    def _decode_error(info: dict) -> BaseException:
        name, message = str(info.get("type", "Error"))[:80], str(info.get("message", ""))[:MAX_TEXT]
        if info.get("path") == _type_path(AnswerTooLarge):
            return AnswerTooLarge(message)
        args = info.get("args")
        args = tuple(a for a in args if isinstance(a, (int, float, str, bool, type(None)))) if isinstance(args, list) else (message,)
        cls = _library_type(str(info.get("path", "")))
        if cls is not None and issubclass(cls, Exception):
            error = cls.__new__(cls)
            error.args = args
            for key, value in (info.get("attrs") or {}).items():
                if isinstance(key, str) and not key.startswith("_"):
                    setattr(error, key, value)
            return error
        import builtins

        for base_name in [name, *info.get("bases", [])]:
            base = getattr(builtins, str(base_name), None)
            if isinstance(base, type) and issubclass(base, Exception):
                if base_name == name:
                    return base(*args)
                return type(name, (base,), {"__module__": "submission"})(*args)
        return RemoteError(f"{name}: {message}")

    # -- messages --------------------------------------------------------------------------------
    def send(self, message: dict) -> None:
        body = json.dumps(message, separators=(",", ":"), allow_nan=False).encode()
        if len(body) > MAX_MESSAGE:
            raise AnswerTooLarge(f"answer too large: {len(body)} bytes, over the {MAX_MESSAGE} byte limit of a message")
        data = memoryview(b"%010d" % len(body) + body)
        while data:
            try:
                written = os.write(self.wfd, data)
            except (BrokenPipeError, OSError) as error:
                raise PeerGone(f"the other end is gone ({error})") from None
            data = data[written:]

    def _wait(self) -> None:
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0 or not select.select([self.rfd], [], [], left)[0]:
                raise CallTimeout("the call did not return in time")

    def _read_into(self, view: memoryview | None, n: int) -> None:
        """Fill ``view`` (``n`` bytes) from what is buffered, then straight from the pipe; with
        ``view`` None, read ``n`` bytes and drop them (an oversized message)."""
        done = min(n, len(self._buffer))
        if view is not None:
            view[:done] = self._buffer[:done]
        del self._buffer[:done]
        while done < n:
            self._wait()
            if view is not None and n - done >= 65536:  # a big body: no copy through the buffer
                got = os.readv(self.rfd, [view[done:]])
            else:
                chunk = os.read(self.rfd, 65536 if view is not None else min(n - done, 2**20))
                got = min(len(chunk), n - done)
                if view is not None:
                    view[done:done + got] = chunk[:got]
                self._buffer += chunk[got:]
                got = got or len(chunk)
            if not got:
                raise PeerGone("the other end closed the connection")
            done += got

    def receive(self) -> dict:
        header = bytearray(HEADER)
        self._read_into(memoryview(header), HEADER)
        if not header.isdigit():
            raise ProtocolError("a malformed message header")
        size = int(header)
        if size > MAX_MESSAGE:
            self._read_into(None, size)
            raise AnswerTooLarge(f"answer too large: {size} bytes, over the {MAX_MESSAGE} byte limit of a message")
        body = bytearray(size)
        self._read_into(memoryview(body), size)
        try:
            message = json.loads(body)
        except (ValueError, RecursionError) as error:
            raise ProtocolError(f"a malformed message: {str(error)[:200]}") from None
        if not isinstance(message, dict):
            raise ProtocolError("a message must be an object")
        return message

    def request(self, op: str, **payload):
        """Ask the other end to do ``op`` and return its answer, serving its requests meanwhile."""
        with self.lock:
            seq = next(self._seq)
            self.send({"req": seq, "op": op, **{k: self.encode(v) for k, v in payload.items()}})
            while True:
                message = self.receive()
                if "req" in message:
                    self.serve_one(message)
                elif message.get("res") == seq:
                    if "error" in message:
                        raise self.decode_error(message["error"] if isinstance(message["error"], dict) else {})
                    return self.decode(message.get("value"))
                else:
                    raise ProtocolError(f"an answer to a request never made: {str(message)[:80]}")

    def serve_one(self, message: dict) -> None:
        seq = message.get("req")
        try:
            value = self.perform(str(message.get("op")), message)
            reply = {"res": seq, "value": self.encode(value)}
        except (PeerGone, CallTimeout):
            raise
        except BaseException as error:  # noqa: BLE001 - every failure goes back as data
            reply = {"res": seq, "error": self.encode_error(error)}
        try:
            self.send(reply)
        except AnswerTooLarge as error:
            self.send({"res": seq, "error": self.encode_error(error)})

    def serve_forever(self) -> None:
        while True:
            self.serve_one(self.receive())

    def perform(self, op: str, message: dict):
        """Carry out one request of the other end, within this end's policy."""
        policy = self.policy
        if op == "lookup":
            if policy.lookup is None:
                raise PermissionError("lookup is not served here")
            name = str(message.get("name"))
            if name not in policy.lookup:
                raise NameError(name)
            return policy.lookup[name]
        ref = message.get("ref")
        if ref not in self._objects:
            raise ProtocolError(f"{op} on an unknown handle {ref!r}")
        target = self._objects[ref]
        if op == "take":
            limit, iterator = self.decode(message.get("limit")), self.decode(message.get("iterator"))
            items = iter(target)
            if iterator and items is not target:
                raise TypeError(f"a {type(target).__name__} came back where an iterator (a generator) was expected")
            return list(itertools.islice(items, limit if type(limit) is int else None))
        if op == "call":
            if not callable(target):
                raise TypeError(f"{type(target).__name__} object is not callable")
            return target(*self.decode(message.get("args", [])), **self.decode(message.get("kwargs", {"$": "dict", "v": []})))
        name = self.decode(message.get("name"))
        if not isinstance(name, str):
            raise ProtocolError("an attribute name must be a string")
        if op == "getattr":
            if policy.public_only and name.startswith("_"):
                raise AttributeError(f"{name!r} is not available to the other end")
            return getattr(target, name)
        if op == "setattr":
            if not policy.setattr:
                raise PermissionError("setting attributes is not served here")
            return setattr(target, name, self.decode(message.get("value")))
        if op == "dunder" and name in DUNDERS:
            return _apply_dunder(target, name, self.decode(message.get("args", [])))
        raise ProtocolError(f"unknown request {op!r}")
