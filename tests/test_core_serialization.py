import hashlib
import json
import os
import struct

import numpy as np
import pytest

from tinytorch.core.compression import quantize_model
from tinytorch.core.data import load_digits
from tinytorch.core.kernels import optimize_inference
from tinytorch.core.layers import Linear, Sequential, Softmax, Tanh
from tinytorch.core.serialization import (ModelFileError, load_model, model_from_bytes,
                                          model_to_bytes, save_model)
from tinytorch.core.training import train_digits_classifier


@pytest.fixture(scope="module")
def model():
    return train_digits_classifier(epochs=5)[0]


@pytest.fixture(scope="module")
def X():
    return load_digits().test[0]


@pytest.fixture
def saved(tmp_path, model):
    return save_model(model, tmp_path / "model.ttm")


def variants(model):
    rng = np.random.default_rng(0)
    tanh_softmax = Sequential(Linear(64, 8, rng=rng), Tanh(), Linear(8, 10, rng=rng), Softmax())
    return {"sequential": model, "quantized": quantize_model(model),
            "inference": optimize_inference(model), "tanh+softmax": tanh_softmax,
            "inference(quantized)": optimize_inference(quantize_model(model))}


@pytest.mark.parametrize("kind", ["sequential", "quantized", "inference", "tanh+softmax",
                                  "inference(quantized)"])
def test_round_trip_is_exact(kind, model, X, tmp_path):
    original = variants(model)[kind]
    loaded = load_model(save_model(original, tmp_path / "m.ttm"))
    assert type(loaded) is type(original)
    np.testing.assert_array_equal(loaded.forward(X), original.forward(X))
    assert loaded.nbytes == original.nbytes and loaded.input_shape == original.input_shape
    assert model_to_bytes(loaded) == model_to_bytes(original)


def test_loaded_sequential_can_keep_training(saved, X):
    loaded = load_model(saved)
    loaded.forward(X[:4])
    loaded.backward(np.ones((4, 10), dtype=np.float32))
    assert np.any(loaded.parameters()[0].grad != 0)


def test_file_starts_with_magic_and_readable_header(saved):
    data = saved.read_bytes()
    magic, version, header_len = struct.unpack_from("<8sIQ", data)
    assert magic == b"TTMODEL\x00" and version == 1
    header = json.loads(data[20:20 + header_len])
    assert header["architecture"]["type"] == "Sequential"
    assert [t["name"] for t in header["tensors"]] == ["0.weight", "0.bias", "2.weight", "2.bias"]


def expect_error(path, message):
    with pytest.raises(ModelFileError, match=message) as info:
        load_model(path)
    assert str(path) in str(info.value) and isinstance(info.value, ValueError)


def test_truncated_file(saved):
    data = saved.read_bytes()
    for cut in (len(data) - 1, 100, 12):
        saved.write_bytes(data[:cut])
        expect_error(saved, "truncated")


def test_empty_file(saved):
    saved.write_bytes(b"")
    expect_error(saved, "truncated")


@pytest.mark.parametrize("where", [30, -300, -1])
def test_tampered_file(saved, where):
    data = bytearray(saved.read_bytes())
    data[where] ^= 0x01
    saved.write_bytes(bytes(data))
    expect_error(saved, "checksum mismatch")


def test_foreign_files(saved):
    for foreign in (b"\x80\x04\x95 pickle data", b"PK\x03\x04zip", b"TTMODEM\x00" + bytes(40)):
        saved.write_bytes(foreign)
        expect_error(saved, "not a tinytorch model file")


def test_trailing_garbage(saved):
    saved.write_bytes(saved.read_bytes() + b"extra")
    expect_error(saved, "checksum mismatch")


def test_newer_format_version(saved):
    data = bytearray(saved.read_bytes())
    struct.pack_into("<I", data, 8, 2)
    saved.write_bytes(bytes(data))
    expect_error(saved, "version 2 is not supported")


def forge(architecture, tensors):
    """A file with a valid checksum but a hand-made header: what a hostile writer can make."""
    table, payload = [], b""
    for name, array in tensors.items():
        table.append({"name": name, "dtype": array.dtype.name, "shape": list(array.shape),
                      "offset": len(payload), "nbytes": array.nbytes})
        payload += array.tobytes()
    header = json.dumps({"architecture": architecture, "tensors": table,
                         "payload_nbytes": len(payload)}).encode()
    body = struct.pack("<8sIQ", b"TTMODEL\x00", 1, len(header)) + header + payload
    return body + hashlib.sha256(body).digest()


@pytest.mark.parametrize("architecture, tensors, message", [
    ({"type": "os.system", "layers": []}, {}, "unknown architecture"),
    ({"type": "Sequential", "layers": [{"type": "Eval"}]}, {}, "unknown type 'Eval'"),
    ({"type": "Sequential", "layers": [{"type": "Linear", "in_features": 2, "out_features": 3}]},
     {"0.weight": np.zeros((3, 2), np.float32), "0.bias": np.zeros(3, np.float32)}, "shapes"),
    ({"type": "Sequential", "layers": [{"type": "Linear", "in_features": 2, "out_features": 3}]},
     {"0.weight": np.zeros((2, 3), np.float32)}, "missing"),
    ({"type": "QuantizedModel", "stages": [{"in_features": 2, "out_features": 3,
                                            "activation": "__import__"}]}, {}, "activation"),
    ({"type": "Sequential", "layers": [{"type": "Linear", "in_features": 2, "out_features": 3},
                                       {"type": "ReLU"},
                                       {"type": "Linear", "in_features": 4, "out_features": 1}]},
     {"0.weight": np.zeros((2, 3), np.float32), "0.bias": np.zeros(3, np.float32),
      "2.weight": np.zeros((4, 1), np.float32), "2.bias": np.zeros(1, np.float32)},
     "layer 2 .* takes 4 inputs but layer 0 .* produces 3"),
])
def test_forged_headers_are_rejected_without_running_anything(architecture, tensors, message):
    with pytest.raises(ModelFileError, match=message):
        model_from_bytes(forge(architecture, tensors), source="upload")


def test_bytes_source_is_named():
    with pytest.raises(ModelFileError, match="^registry/abc: not a tinytorch"):
        model_from_bytes(b"hello", source="registry/abc")


def test_save_is_atomic_and_explains_missing_directory(tmp_path, model):
    with pytest.raises(FileNotFoundError, match="create it first"):
        save_model(model, tmp_path / "missing" / "m.ttm")
    save_model(model, tmp_path / "m.ttm")
    assert [p.name for p in tmp_path.iterdir()] == ["m.ttm"]


def test_only_models_can_be_saved():
    with pytest.raises(TypeError, match="can only save"):
        model_to_bytes({"weights": [1, 2]})


def reseal(data, edit):
    """`data` with its header JSON edited by `edit` (or replaced by raw bytes) and the checksum
    recomputed: a forged file that the checksum alone cannot catch."""
    header_len = struct.unpack_from("<8sIQ", data)[2]
    header = json.loads(data[20:20 + header_len])
    raw = edit(header)
    raw = raw if isinstance(raw, bytes) else json.dumps(header).encode()
    body = struct.pack("<8sIQ", b"TTMODEL\x00", 1, len(raw)) + raw + data[20 + header_len:-32]
    return body + hashlib.sha256(body).digest()


def set_first_shape(shape):
    return lambda header: header["tensors"][0].update(shape=shape)


@pytest.mark.parametrize("edit, message", [
    (lambda header: b"[" * 100_000 + b"]" * 100_000, "nests 100000 levels"),
    (lambda header: json.dumps({**header, "payload_nbytes": 0}).replace(
        '"payload_nbytes": 0', '"payload_nbytes": 1e400').encode(), "announces a payload of inf"),
    (lambda header: header.update(payload_nbytes="4840"), "announces a payload of '4840'"),
    (set_first_shape([2**62, 2**62]), "needs .* bytes; only"),
    (set_first_shape([1] * 9), "invalid shape"),
    (lambda header: header["tensors"][0].update(dtype=["float32"]), "unsupported dtype"),
    (lambda header: header["architecture"].update(type=["Sequential"]), "unknown architecture"),
    (lambda header: b'{"payload_nbytes": NaN}', "NaN is not JSON"),
])
def test_forged_headers_end_in_model_file_error(saved, edit, message):
    saved.write_bytes(reseal(saved.read_bytes(), edit))
    expect_error(saved, message)


def test_checksum_is_checked_before_the_header_is_parsed(saved):
    forged = reseal(saved.read_bytes(), lambda header: b"[" * 100_000 + b"]" * 100_000)
    saved.write_bytes(forged[:-1] + bytes([forged[-1] ^ 1]))
    expect_error(saved, "checksum mismatch")


def test_special_files_are_refused_without_reading_them(tmp_path):
    device = tmp_path / "zero.ttm"
    device.symlink_to("/dev/zero")
    expect_error(device, "not a regular file")
    fifo = tmp_path / "fifo.ttm"
    os.mkfifo(fifo)  # opening it for reading would block until a writer appears
    expect_error(fifo, "not a regular file")
    expect_error(tmp_path, "not a regular file")
