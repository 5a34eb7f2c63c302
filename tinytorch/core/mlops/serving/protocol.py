"""The Open Inference Protocol v2 (KServe, Triton, MLServer), JSON/REST flavour.

An infer request names one input tensor by its shape, its datatype and its data (a flat,
row-major list, or a nested one of the same shape)::

    {"id": "42", "inputs": [{"name": "input-0", "shape": [1, 64], "datatype": "FP32",
                             "data": [0.0, 0.5, ...]}],
     "outputs": [{"name": "predict"}]}

and the response carries each requested output the same way::

    {"model_name": "digits", "model_version": "1", "id": "42",
     "outputs": [{"name": "predict", "shape": [1], "datatype": "INT64", "data": [7]}]}

Everything a client can get wrong is rejected here, before it reaches the model, with an
``InferenceError`` whose HTTP status and message say what was wrong.
"""

import math

import numpy as np
import orjson

# v2 tensor datatypes the model can be fed: every numeric one (BOOL and BYTES are not numbers).
NUMERIC_DATATYPES = frozenset(
    ["FP16", "FP32", "FP64", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"]
)

# v2 names of the numpy dtypes the server answers with.
DATATYPE_OF_DTYPE = {np.dtype(np.float32): "FP32", np.dtype(np.float64): "FP64", np.dtype(np.int64): "INT64"}


class InferenceError(Exception):
    """A request the server refuses, with the HTTP status to answer and a message for the caller.

    400: the request is wrong (malformed JSON, shape, datatype, NaN/inf); 404: no such model or
    version; 413: body too large; 503: not ready or overloaded (retry later).
    """

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message

    def __repr__(self):
        return f"InferenceError({self.status}, {self.message!r})"


def parse_infer_request(body, input_shape):
    """Validate a decoded v2 infer request and return its input as a float32 array.

    ``body`` is the request JSON already decoded to Python objects; ``input_shape`` is the shape
    of one example, e.g. ``(64,)``. Returns an array of shape ``(n, *input_shape)``.

    A server must never let a bad request reach the model (or crash it): every mistake becomes
    ``InferenceError(400, message)`` whose message says what was wrong and how to fix it.
    Check in this order, so that the message names the first problem:
    - ``body`` is not an object or has no ``inputs`` list with exactly one tensor (an object
      with ``shape``, ``datatype`` and ``data``);
    - ``shape`` is not a list of integers ``[n, *input_shape]`` with ``n >= 1`` (``True`` is
      not an integer here, and ``[0, 4]`` is refused even with empty data): the message
      contains the word "shape";
    - ``datatype`` is not one of ``NUMERIC_DATATYPES``: the message contains "datatype";
    - ``data`` does not hold ``prod(shape)`` numbers (flat or nested);
    - any value is NaN or infinite (after conversion to float32, so 1e39 counts too): the
      message contains "NaN", "inf" or "finite".
    """
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise InferenceError(400, 'request must be a JSON object with an "inputs" list')
    if len(body["inputs"]) != 1:
        raise InferenceError(400, f'this model takes exactly one input tensor, got {len(body["inputs"])}')
    tensor = body["inputs"][0]
    if not isinstance(tensor, dict) or not {"shape", "datatype", "data"} <= tensor.keys():
        raise InferenceError(400, 'each input needs "name", "shape", "datatype" and "data"')
    shape, datatype = tensor["shape"], tensor["datatype"]
    expected = [int(d) for d in input_shape]
    if (
        not isinstance(shape, list)
        or not all(type(d) is int and d > 0 for d in shape)
        or shape[1:] != expected
    ):
        raise InferenceError(400, f"input shape must be [n, {', '.join(map(str, expected))}] with n >= 1, got {shape}")
    if datatype not in NUMERIC_DATATYPES:
        raise InferenceError(400, f"input datatype must be numeric (e.g. FP32), got {datatype!r}")
    try:
        with np.errstate(over="ignore"):  # 1e39 becomes inf, rejected below, without a warning
            x = np.asarray(tensor["data"], dtype=np.float32)
    except (ValueError, TypeError):
        raise InferenceError(400, f'input "data" must be a flat or nested list of numbers matching shape {shape}') from None
    if x.size != math.prod(shape):
        raise InferenceError(400, f'input "data" has {x.size} values but shape {shape} needs {math.prod(shape)}')
    if not np.isfinite(x).all():
        raise InferenceError(400, "input contains NaN or infinite values; send finite numbers only")
    return x.reshape(shape)


def requested_outputs(body, available):
    """Names of the outputs the request asks for (all of ``available`` if it names none)."""
    wanted = body.get("outputs")
    if not wanted:
        return list(available)
    if not isinstance(wanted, list) or not all(isinstance(o, dict) and "name" in o for o in wanted):
        raise InferenceError(400, 'request "outputs" must be a list of {"name": ...} objects')
    names = [o["name"] for o in wanted]
    unknown = [n for n in names if n not in available]
    if unknown:
        raise InferenceError(400, f"unknown output(s) {unknown}; this model offers {list(available)}")
    return names


def encode_infer_response(model_name, model_version, request_id, outputs):
    """Encode named output arrays as a v2 infer response (JSON bytes).

    orjson serialises numpy arrays natively, which is several times faster than ``tolist()``.
    """
    response = {
        "model_name": model_name,
        "model_version": model_version,
        "outputs": [
            {
                "name": name,
                "shape": list(array.shape),
                "datatype": DATATYPE_OF_DTYPE[array.dtype],
                "data": np.ascontiguousarray(array).reshape(-1),
            }
            for name, array in outputs.items()
        ],
    }
    if request_id is not None:
        response["id"] = request_id
    return orjson.dumps(response, option=orjson.OPT_SERIALIZE_NUMPY)


def decode_infer_response(payload):
    """Decode a v2 infer response (bytes or dict) into ``{output name: numpy array}``."""
    body = orjson.loads(payload) if isinstance(payload, (bytes, str)) else payload
    dtypes = {name: dtype for dtype, name in DATATYPE_OF_DTYPE.items()}
    return {
        out["name"]: np.asarray(out["data"], dtype=dtypes.get(out["datatype"])).reshape(out["shape"])
        for out in body["outputs"]
    }


def encode_infer_request(x, outputs=None, request_id=None, input_name="input-0"):
    """Encode a batch as a v2 infer request (JSON bytes); ``outputs`` restricts the answer."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    request = {"inputs": [{"name": input_name, "shape": list(x.shape), "datatype": "FP32", "data": x.reshape(-1)}]}
    if outputs:
        request["outputs"] = [{"name": name} for name in outputs]
    if request_id is not None:
        request["id"] = request_id
    return orjson.dumps(request, option=orjson.OPT_SERIALIZE_NUMPY)
