"""InferenceEndpoint: a small v2 REST client over one keep-alive connection per thread.

The stdlib's ``http.client`` is enough: one persistent connection avoids a TCP handshake per
request, and the client adds no dependency to a notebook.
"""

import http.client
import threading
from urllib.parse import urlsplit

import orjson

from .protocol import InferenceError, decode_infer_response, encode_infer_request


class InferenceEndpoint:
    """Calls a v2 inference server: ``InferenceEndpoint(server).predict(x)``.

    ``target`` is a running ``ModelServer`` or a base URL such as ``"http://127.0.0.1:8080"``
    (then pass ``model_name``). Non-200 answers raise ``InferenceError`` with the server's status
    and message. Safe to share between threads (each thread gets its own connection).
    """

    def __init__(self, target, model_name=None, version=None, timeout=10.0):
        self._server = None if isinstance(target, str) else target
        self._url = target if isinstance(target, str) else None
        self.model_name = model_name or (self._server.model_name if self._server else None)
        if self.model_name is None:
            raise ValueError("pass model_name= when the target is a URL")
        self.version = version
        self.timeout = timeout
        self._local = threading.local()

    @property
    def url(self):
        return self._server.url if self._server is not None else self._url

    @property
    def model_path(self):
        path = f"/v2/models/{self.model_name}"
        return path if self.version is None else f"{path}/versions/{self.version}"

    def _connection(self):
        parts = urlsplit(self.url)
        conn = getattr(self._local, "conn", None)
        if conn is None or (conn.host, conn.port) != (parts.hostname, parts.port):
            if conn is not None:
                conn.close()
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def request(self, method, path, body=None):
        """Send one request and return ``(status, body bytes)``. A connection the server closed
        (idle timeout, restart) is reopened once; v2 requests are safe to repeat."""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        for attempt in (1, 2):
            conn = self._connection()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                return response.status, response.read()
            except (ConnectionError, http.client.BadStatusLine):
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise

    def _get_json(self, path):
        status, payload = self.request("GET", path)
        _raise_for_status(status, payload)
        return orjson.loads(payload) if payload else {}

    def infer(self, x, outputs=None, request_id=None):
        """Run the model on ``x`` (one row or a batch) and return ``{output name: array}``."""
        body = encode_infer_request(_as_batch(x), outputs=outputs, request_id=request_id)
        status, payload = self.request("POST", self.model_path + "/infer", body)
        _raise_for_status(status, payload)
        return decode_infer_response(payload)

    def predict(self, x):
        """Class ids (int64), one per row, as ``model.predict(x)`` returns them."""
        return self.infer(x, outputs=["predict"])["predict"]

    def predict_proba(self, x):
        """Class probabilities (float32), one row per input row."""
        return self.infer(x, outputs=["predict_proba"])["predict_proba"]

    def is_live(self):
        return self.request("GET", "/v2/health/live")[0] == 200

    def is_ready(self):
        return self.request("GET", self.model_path + "/ready")[0] == 200

    def metadata(self):
        return self._get_json(self.model_path)

    def metrics_text(self):
        """The server's ``/metrics`` page (Prometheus text format)."""
        return self.request("GET", "/metrics")[1].decode()

    def close(self):
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def __repr__(self):
        return f"InferenceEndpoint({self.url}{self.model_path})"


def _raise_for_status(status, payload):
    """A non-200 answer becomes ``InferenceError`` with the server's ``error`` message, or the raw
    body when it is not the JSON error object (e.g. a proxy's HTML page), or "HTTP <status>" if empty."""
    if status == 200:
        return
    try:
        message = orjson.loads(payload)["error"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        message = payload.decode(errors="replace") or f"HTTP {status}"
    raise InferenceError(status, message)


def _as_batch(x):
    """A single example (1-D for this course's models) becomes a batch of one row."""
    import numpy as np

    x = np.asarray(x, dtype=np.float32)
    return x.reshape(1, -1) if x.ndim == 1 else x
