"""Values as plain data: how a value of one end is written as JSON and rebuilt on the other.

Values cross as plain data: ``None``, numbers, strings, bytes, lists, tuples, dicts, sets, NumPy
arrays and scalars of numeric dtypes, dataclasses and enums defined in ``tinytorch`` (rebuilt from
their fields), and ``tinytorch`` models (as model-file bytes). Nothing is ever unpickled or
evaluated.

A value whose type is a subclass of one of these crosses as its plain base (a ``str`` subclass as
a ``str``, a ``NamedTuple`` as a tuple rebuilt with the same field names, an ``ndarray`` subclass as
an ``ndarray``): what arrives is always of the exact plain type, decoded from JSON by this end.
Anything else crosses as a handle (``autograder.grading.protocol.handles``). Exceptions cross as
their type's name, its base classes' names, the message and the exception's plain-data attributes.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import importlib
import math
import os
import pathlib

import numpy as np

from autograder.grading.protocol.errors import MAX_TEXT, AnswerTooLarge, ProtocolError, RemoteError
from autograder.grading.protocol.handles import Handle, ObjectTable, Remote, by_reference

NUMERIC_KINDS = "biufcUS"  # array dtypes that cross by value: bool, ints, floats, complex, text


class Values:
    """Encodes this end's values and decodes the other end's, for one connection.

    ``owner`` is the connection the handles belong to (a handle of ``owner`` is sent back as the
    other end's own object); ``objects`` is this end's table of objects handed out;
    ``handle_type`` is what an object of the other end becomes here (``Handle`` or ``Remote``)."""

    def __init__(self, owner, objects: ObjectTable, handle_type: type = Handle):
        self.owner, self.objects, self.handle_type = owner, objects, handle_type

    def encode(self, value, depth: int = 0):
        if depth > 64:
            raise ProtocolError("a value nested more than 64 levels deep cannot be sent")
        if type(value) in _SCALARS:  # most values: as they are, without the look for a base type
            return value
        value = _plain_base(value)
        if type(value) in _SCALARS:  # a subclass's value, as its base type
            return value
        if type(value) is float:
            return value if math.isfinite(value) else {"$": "float", "v": repr(value)}
        if isinstance(value, (Remote, Handle)) and value._peer is self.owner:
            return {"$": "yours", "id": value._id}
        if type(value) is by_reference:
            return {"$": "ref", "id": self.objects.ref_for(value.obj), "label": f"{type(value.obj).__name__} object"}
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
        return {"$": "ref", "id": self.objects.ref_for(value), "label": f"{cls.__name__} object"[:80]}

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
            if data["id"] not in self.objects:
                raise ProtocolError(f"no object with handle {data['id']}")
            return self.objects[data["id"]]
        if tag == "ref":
            return self.handle_type(self.owner, int(data["id"]), str(data.get("label", "remote object"))[:80])
        raise ProtocolError(f"unknown value tag {tag!r}")


def encode_error(error: BaseException) -> dict:
    """An exception as data: its type's name and path, its bases' names, message, plain args and attributes."""
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


def decode_error(info: dict) -> BaseException:
    """The exception to raise here for an error raised there: the library's own type when it
    is a ``tinytorch`` exception, the nearest built-in type otherwise (with the original name)."""
    error = _decode_error(info)
    try:
        error.raised_by_peer = True  # the judge's feedback abstracts such messages
    except AttributeError:
        pass
    return error


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


_SCALARS = (str, int, bool, type(None))


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
