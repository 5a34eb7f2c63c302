"""Reading version records from disk without trusting them.

A record file (`<version>.json`) decides which artifact is loaded and which file a delete
removes, so every field is checked before it is used: the version must equal the file's name,
the artifact hash must be 64 hex digits (never a path), numbers must be finite and bounded.
A record that fails any check raises ValueError naming the field, and nothing else is read.
"""

import dataclasses
import json
import math
import re

from tinytorch.core.serialization import MAX_MODEL_BYTES, strict_json

from .storage import InvalidNameError, validate_name
from .versions import Lineage, ModelSignature, ModelVersion

MAX_RECORD_BYTES = 1 << 20  # a record with 1,000 params and metrics is about 60 KB
MAX_SHAPE_DIMS = 8
HEX_DIGEST = re.compile(r"[0-9a-f]{64}")
DTYPE_NAME = re.compile(r"(float|int|uint)(8|16|32|64)|bool")
FIELDS = {f.name for f in dataclasses.fields(ModelVersion)}
MAX_PARAM_DEPTH = 32
"""Levels of dicts and lists that params (or a config) may nest, the params dict itself being
the first. Records are read back by a recursive JSON parser, which a deeper value would exhaust
(RecursionError), and no configuration needs more."""


def parse_record(data: bytes, name: str, version: str) -> ModelVersion:
    """The ModelVersion in `data`, the record of `version` of model `name`; ValueError naming
    the first field that is missing, of the wrong type, or out of range."""
    d = strict_json(data, "the record")
    if not isinstance(d, dict):
        raise ValueError(f"the record is a JSON {type(d).__name__}, not an object")
    if d.keys() != FIELDS:
        missing, extra = sorted(FIELDS - d.keys()), sorted(d.keys() - FIELDS)
        raise ValueError(f"the record's fields are wrong (missing: {missing or 'none'}, "
                         f"unexpected: {extra or 'none'})")
    if d["name"] != name:
        raise ValueError(f"its name field reads {d['name']!r} but it is filed under {name!r}")
    if d["version"] != version:
        raise ValueError(f"its version field reads {d['version']!r} but the file is {version}.json")
    if not (isinstance(d["sha256"], str) and HEX_DIGEST.fullmatch(d["sha256"])):
        raise ValueError(f"its sha256 field {d['sha256']!r} is not 64 lowercase hex digits")
    _check_count(d, "size_bytes", 1, MAX_MODEL_BYTES)
    _check_count(d, "num_parameters", 0, MAX_MODEL_BYTES)
    if not (_is_number(d["created_at"]) and math.isfinite(d["created_at"])):
        raise ValueError(f"its created_at field {d['created_at']!r} is not a finite number")
    return ModelVersion(
        name=name, version=version, sha256=d["sha256"], size_bytes=d["size_bytes"],
        num_parameters=d["num_parameters"], created_at=float(d["created_at"]),
        signature=_signature(d["signature"]), lineage=_lineage(d["lineage"]),
        metrics=check_metrics(d["metrics"]), params=_string_keyed(d["params"], "params"),
        tags=_tags(d["tags"]), description=_string(d["description"], "description"),
    )


def check_metrics(metrics) -> dict:
    """`metrics` as {name: float} if it is a dict of finite numbers; ValueError saying which
    entry is not. Booleans are refused: True is not an accuracy."""
    metrics = _string_keyed(metrics, "metrics")
    for key, value in metrics.items():
        if not (_is_number(value) and math.isfinite(value)):
            raise ValueError(f"metric {key!r} is {value!r}; metrics must be finite numbers")
    return {key: float(value) for key, value in metrics.items()}


def check_params(value, field="params") -> dict:
    """`value` as the record will hold it, if it is a dict of strict JSON; ValueError naming
    `field` and where in it the first value is that a record cannot hold faithfully.

    Allowed: dicts with string keys, lists, strings, whole numbers, finite floats, booleans and
    None, nested at most MAX_PARAM_DEPTH levels (a tuple is held as a list, the way JSON writes
    it, and the result is that list, so the returned record equals the one read back). Anything
    else (an object, a set, bytes, a NumPy integer, NaN) would be stored as something other than
    what was given, or not at all. The walk is iterative: a value nested 100,000 levels deep is
    refused at level MAX_PARAM_DEPTH + 1, not by a RecursionError.
    """
    if not isinstance(value, dict):
        raise ValueError(f"{field} must be a dict with string keys, got {type(value).__name__}")
    stack = [(value, field, 1)]
    while stack:
        node, where, depth = stack.pop()
        if isinstance(node, (dict, list, tuple)):
            if depth > MAX_PARAM_DEPTH:
                raise ValueError(f"{field} nests deeper than {MAX_PARAM_DEPTH} levels of dicts "
                                 f"and lists (at {where[:120]}); flatten it")
            items = node.items() if isinstance(node, dict) else enumerate(node)
            for key, child in items:
                if isinstance(node, dict) and not isinstance(key, str):
                    raise ValueError(f"{where} has the key {key!r} ({type(key).__name__}); "
                                     "keys must be strings")
                shown = repr(key) if isinstance(node, dict) else str(key)
                stack.append((child, f"{where}[{shown}]", depth + 1))
        elif isinstance(node, float) and not math.isfinite(node):
            raise ValueError(f"{where} is {node}; numbers must be finite")
        elif not (node is None or isinstance(node, (str, int, float))):
            raise ValueError(f"{where} is a {type(node).__name__}, which a record cannot hold "
                             "faithfully; use strings, numbers, booleans, None, lists and dicts")
    return json.loads(json.dumps(value))


def check_tags(tags) -> dict:
    """`tags` as {str: str}; numbers and booleans are recorded as their text (search_versions
    compares text too). ValueError naming the tag for any other key or value."""
    tags = {} if tags is None else tags
    if not isinstance(tags, dict):
        raise ValueError(f"tags must be a dict of strings, got {type(tags).__name__}")
    for key, value in tags.items():
        if not isinstance(key, str):
            raise ValueError(f"tag name {key!r} is a {type(key).__name__}; tag names must be strings")
        if not isinstance(value, (str, int, float)) or isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"tag {key!r} is {type(value).__name__} {value!r}, which a record "
                             "cannot hold faithfully; tag values are strings (or numbers, kept as text)")
    return {key: str(value) for key, value in tags.items()}


def check_description(description) -> str:
    """`description` if it is a string; ValueError otherwise (an object's repr is not one)."""
    if not isinstance(description, str):
        raise ValueError(f"description must be a string, got {type(description).__name__}")
    return description


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_count(d, key, low, high):
    value = d[key]
    if not (type(value) is int and low <= value <= high):
        raise ValueError(f"its {key} field {value!r} is not a whole number in [{low}, {high}]")


def _string(value, what) -> str:
    if not isinstance(value, str):
        raise ValueError(f"its {what} field is a {type(value).__name__}, not a string")
    return value


def _string_keyed(value, what) -> dict:
    if not (isinstance(value, dict) and all(isinstance(k, str) for k in value)):
        raise ValueError(f"{what} must be a dict with string keys, got {type(value).__name__}")
    return value


def _tags(tags) -> dict:
    tags = _string_keyed(tags, "tags")
    if not all(isinstance(v, str) for v in tags.values()):
        raise ValueError("every tag value must be a string")
    return tags


def _shape(value, what) -> tuple:
    if not (isinstance(value, list) and len(value) <= MAX_SHAPE_DIMS
            and all(type(n) is int and 0 <= n <= MAX_MODEL_BYTES for n in value)):
        raise ValueError(f"its signature's {what} {value!r} is not a list of sizes")
    return tuple(value)


def _signature(d) -> ModelSignature:
    if not (isinstance(d, dict) and d.keys() == {"input_shape", "dtype", "output_shape"}):
        raise ValueError("its signature needs exactly input_shape, dtype and output_shape")
    if not (isinstance(d["dtype"], str) and DTYPE_NAME.fullmatch(d["dtype"])):
        raise ValueError(f"its signature's dtype {d['dtype']!r} is not a numeric dtype name")
    return ModelSignature(_shape(d["input_shape"], "input_shape"), d["dtype"],
                          _shape(d["output_shape"], "output_shape"))


def _lineage(d) -> Lineage:
    if not (isinstance(d, dict) and d.keys() == {"parent_version", "data_hash", "code_hash"}):
        raise ValueError("its lineage needs exactly parent_version, data_hash and code_hash")
    if d["parent_version"] is not None:
        try:
            validate_name(d["parent_version"], "parent_version")
        except InvalidNameError as exc:
            raise ValueError(f"its lineage: {exc}") from None
    for key in ("data_hash", "code_hash"):
        if d[key] is not None and not (isinstance(d[key], str) and HEX_DIGEST.fullmatch(d[key])):
            raise ValueError(f"its lineage's {key} {d[key]!r} is not 64 lowercase hex digits")
    return Lineage(**d)
