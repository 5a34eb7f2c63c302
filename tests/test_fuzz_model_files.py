"""Mutated model files: every one must end in ModelFileError (naming the file) or a correct load.

Half the mutations damage bytes as a disk or a copy would (flips, truncation, extension); the
other half forge files as a hostile writer would: the header is rewritten (values replaced by
deep nesting, huge or non-finite numbers, wrong types) and the checksum recomputed, so the
loader's bounds behind the checksum are exercised too. Counts: see tests/fuzz_support.py.
"""

import copy
import hashlib
import json
import random
import struct

import numpy as np
import pytest

from fuzz_support import FuzzFigures, case_count
from tinytorch.core.compression import quantize_model
from tinytorch.core.kernels import optimize_inference
from tinytorch.core.layers import mlp
from tinytorch.core.serialization import (DIGEST_SIZE, PREFIX, SAVABLE, ModelFileError,
                                          load_model, model_to_bytes)

CASES = case_count(quick=1_500, full=10_000)

HOSTILE_VALUES = [
    None, True, -1, 0, 2**63, 10**400, 1e308, [], {}, "", "Sequential", "x" * 1000,
    json.loads("[" * 20 + "1" + "]" * 20), {"type": []}, [1, 2, 3], [-1], [2**40, 2**40],
]


def hostile(rng, *extra):
    """A fresh copy of a hostile JSON value (shared objects would be mutated in place later)."""
    return copy.deepcopy(rng.choice(HOSTILE_VALUES + list(extra)))


def seal(header: dict | bytes, payload: bytes, header_len=None) -> bytes:
    """A file with a valid checksum around `header` and `payload`, as a forger would write."""
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    body = PREFIX.pack(b"TTMODEL\x00", 1, len(raw) if header_len is None else header_len)
    body += raw + payload
    return body + hashlib.sha256(body).digest()


def split(data: bytes):
    header_len = PREFIX.unpack_from(data)[2]
    end = PREFIX.size + header_len
    return json.loads(data[PREFIX.size:end]), data[end:-DIGEST_SIZE]


def replace_random_node(rng, node):
    """Replace one randomly chosen value inside the JSON tree `node` (in place when possible)."""
    if isinstance(node, dict) and node and rng.random() < 0.7:
        key = rng.choice(sorted(node))
        if rng.random() < 0.5 or not isinstance(node[key], (dict, list)):
            node[key] = hostile(rng, float("nan"), float("inf"))
        else:
            replace_random_node(rng, node[key])
    elif isinstance(node, list) and node and rng.random() < 0.7:
        i = rng.randrange(len(node))
        if rng.random() < 0.5 or not isinstance(node[i], (dict, list)):
            node[i] = hostile(rng)
        else:
            replace_random_node(rng, node[i])
    elif isinstance(node, dict):
        node[rng.choice(["type", "shape", "payload_nbytes", "extra"])] = hostile(rng)


def mutate(rng, data: bytes):
    """One mutated file and a short label of how it was made."""
    kind = rng.choice(["flip", "truncate", "extend", "forge_value", "forge_bytes", "deep",
                       "forge_length", "forge_payload"])
    if kind == "flip":
        out = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
        return bytes(out), kind
    if kind == "truncate":
        return data[:rng.randrange(len(data))], kind
    if kind == "extend":
        return data + bytes(rng.randrange(256) for _ in range(rng.randint(1, 64))), kind
    header, payload = split(data)
    if kind == "forge_value":
        for _ in range(rng.randint(1, 3)):
            replace_random_node(rng, header)
        return seal(header, payload), kind
    if kind == "forge_bytes":
        raw = bytearray(json.dumps(header).encode())
        for _ in range(rng.randint(1, 4)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        return seal(bytes(raw), payload), kind
    if kind == "deep":
        depth = rng.choice([20, 1_000, 100_000])
        return seal(b"[" * depth + b"]" * depth, payload), f"deep {depth}"
    if kind == "forge_length":
        raw = json.dumps(header).encode()
        return seal(raw, payload, header_len=rng.choice([0, len(raw) - 1, 2**40, 2**64 - 1])), kind
    cut = rng.randrange(len(payload) + 1)
    return seal(header, payload[:cut] + bytes(rng.randrange(0, 9))), kind


def loads_correctly(model) -> bool:
    """A loaded model is one of the savable types, takes its input and returns finite-shaped rows."""
    out = np.asarray(model.forward(np.zeros((2, *model.input_shape), dtype=np.float32)))
    return isinstance(model, SAVABLE) and out.shape[0] == 2


@pytest.fixture(scope="module")
def originals():
    base = mlp((8, 6, 4), seed=0)
    return [model_to_bytes(m) for m in (base, quantize_model(base), optimize_inference(base))]


def test_mutated_model_files_end_in_model_file_error_or_a_correct_load(tmp_path, originals):
    rng = random.Random(19)
    figures = FuzzFigures()
    path = tmp_path / "model.ttm"

    def attempt(data):
        path.write_bytes(data)
        try:
            model = load_model(path)
        except ModelFileError as error:
            assert str(path) in str(error), error
            return "ModelFileError"
        assert loads_correctly(model)
        return "loaded"

    for case in range(CASES):
        data, label = mutate(rng, originals[case % len(originals)])
        figures.timed(f"case {case}: {label}", lambda: attempt(data))
    print("\n" + figures.report("model files"))
    assert figures.outcomes.get("ModelFileError", 0) > CASES * 0.9


def header_paths(node, path=()):
    """The path (keys and indices) of every value in the JSON tree `node`, the root excluded."""
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in children:
        yield (*path, key)
        yield from header_paths(child, (*path, key))


def json_kind(value) -> str:
    return "number" if type(value) in (int, float) else type(value).__name__


def replaced(header, path, value):
    """A deep copy of `header` with the value at `path` replaced by `value`."""
    header = copy.deepcopy(header)
    node = header
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = copy.deepcopy(value)
    return header


def test_a_value_of_the_wrong_kind_at_any_header_key_is_a_model_file_error(tmp_path, originals):
    """Every value of every header (each key at every depth, each list item) replaced in turn by
    each hostile value of another JSON kind, checksum recomputed: a ModelFileError or a load,
    never a TypeError or KeyError from inside the parser."""
    path = tmp_path / "model.ttm"
    outcomes = {}
    for data in originals:
        header, payload = split(data)
        for where in header_paths(header):
            node = header
            for key in where:
                node = node[key]
            for value in HOSTILE_VALUES:
                if json_kind(value) == json_kind(node):
                    continue
                path.write_bytes(seal(replaced(header, where, value), payload))
                try:
                    outcome = "loaded" if loads_correctly(load_model(path)) else "wrong model"
                except ModelFileError as error:
                    assert str(path) in str(error), error
                    outcome = "ModelFileError"
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
    assert set(outcomes) <= {"ModelFileError", "loaded"}, outcomes
    assert outcomes["ModelFileError"] > 1000, outcomes
