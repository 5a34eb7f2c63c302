"""ModelServer: an Open Inference Protocol v2 server for a tinytorch model.

    server = ModelServer(model, port=8080)
    server.start()                      # background thread: works inside Jupyter, Colab, Binder
    InferenceEndpoint(server).predict(x)
    server.swap_model(new_model)        # hot swap: load, flip, release the old one
    server.stop()                       # frees the port; start() again reuses it

A live monitoring page is at ``/dashboard`` (see ``dashboard.py``); attach a ``ModelMonitor``
(``server.attach_monitor(monitor)``) to show accuracy, drift and alerts there too.

The HTTP stack is uvicorn + Starlette routing + orjson (2.5x FastAPI+pydantic and 5x the
stdlib's ThreadingHTTPServer on this model). On a model this small the per-request framework
layers cost more than the model, so the hot path does only what the protocol needs: an infer
request for the served model's path goes straight to a plain ASGI handler (no route matching, no
Request or Response objects); every other path goes through the Starlette router. Everything
runs on one event loop, the model included; requests that arrive while it computes are batched
by ``MicroBatcher``.
"""

import asyncio
import socket
import threading
import time

import numpy as np
import orjson
import uvicorn
from starlette.routing import Route, Router

from .batching import MicroBatcher, take_batch
from .dashboard import dashboard_data, dashboard_page
from .metrics import ServerMetrics
from .protocol import InferenceError, encode_infer_response, parse_infer_request, requested_outputs

JSON_HEADERS = [(b"content-type", b"application/json")]
TEXT_HEADERS = [(b"content-type", b"text/plain; version=0.0.4; charset=utf-8")]
HTML_HEADERS = [(b"content-type", b"text/html; charset=utf-8"), (b"cache-control", b"no-cache")]


class ServedModel:
    """A model ready to serve: checked once by a warm-up call, then immutable, so swapping is a
    single reference assignment and a batch always runs on one consistent version."""

    def __init__(self, model, name, version):
        if not hasattr(model, "forward") or not hasattr(model, "input_shape"):
            raise TypeError(f"a served model needs forward(x) and input_shape, got {type(model).__name__}")
        self.model = model
        self.name = str(name)
        self.version = str(version)
        self.input_shape = tuple(int(d) for d in model.input_shape)
        self.outputs_probabilities = bool(getattr(model, "outputs_probabilities", False))
        try:
            warm = self.predict_batch(np.zeros((1, *self.input_shape), dtype=np.float32))
        except Exception as error:
            raise ValueError(f"model {self.name!r} version {self.version!r} failed its warm-up call: {error}") from error
        self.num_classes = warm["predict_proba"].shape[1]

    def predict_batch(self, x):
        """One forward pass; both outputs derive from the same scores."""
        scores = np.asarray(self.model.forward(x))
        if self.outputs_probabilities:
            proba = scores
        else:
            shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
            proba = shifted / shifted.sum(axis=1, keepdims=True)
        return {"predict": scores.argmax(axis=1).astype(np.int64), "predict_proba": proba.astype(np.float32)}

    def metadata(self):
        """v2 model metadata."""
        return {
            "name": self.name,
            "versions": [self.version],
            "platform": "tinytorch",
            "inputs": [{"name": "input-0", "datatype": "FP32", "shape": [-1, *self.input_shape]}],
            "outputs": [
                {"name": "predict", "datatype": "INT64", "shape": [-1]},
                {"name": "predict_proba", "datatype": "FP32", "shape": [-1, self.num_classes]},
            ],
        }


OUTPUT_NAMES = ("predict", "predict_proba")


DRAIN_LIMIT = 64 << 20  # bytes of a refused body read and dropped so that its 413 gets through


async def read_body(scope, receive, max_bytes):
    """The request body, refusing (413) anything over ``max_bytes`` without buffering it.

    A refused body is still read, and dropped, before the answer (up to ``DRAIN_LIMIT``
    bytes): a server that closes a connection with unread request bytes makes the kernel reset
    it, and a client that sent ``Connection: close`` would see the reset instead of the 413.
    """
    declared = next((int(value) for key, value in scope["headers"] if key == b"content-length"), 0)
    if declared > max_bytes:
        await drain_body(receive, declared)
        raise InferenceError(413, f"request body is {declared} bytes; the limit is {max_bytes} (max_body_bytes): send smaller batches")
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise InferenceError(400, "client disconnected before sending the whole body")
        chunk = message.get("body", b"")
        size += len(chunk)
        more = message.get("more_body", False)
        if size > max_bytes:
            if more:
                await drain_body(receive, size)
            raise InferenceError(413, f"request body exceeds the limit of {max_bytes} bytes (max_body_bytes): send smaller batches")
        chunks.append(chunk)
        if not more:
            return b"".join(chunks)


async def drain_body(receive, size):
    """Read and drop the rest of a request body, ``size`` bytes of which are accounted for,
    until it ends, the client goes away or ``DRAIN_LIMIT`` is reached."""
    while size <= DRAIN_LIMIT:
        message = await receive()
        if message["type"] == "http.disconnect" or not message.get("more_body", False):
            return
        size += len(message.get("body", b""))


async def send_bytes(send, status, payload, headers=JSON_HEADERS):
    await send({"type": "http.response.start", "status": status,
                "headers": headers + [(b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})


class AsgiEndpoint:
    """Starlette wraps a plain function as a Request -> Response handler; an object is called as
    a bare ASGI app, which skips building Request and Response objects on the hot path.

    Any other method than ``method`` gets a JSON 405 with an ``Allow`` header (Starlette's own
    405 is plain text, unlike every other error of this server)."""

    def __init__(self, app, method="GET"):
        self.app = app
        self.method = method

    async def __call__(self, scope, receive, send):
        if scope["method"] != self.method:
            await send_bytes(send, 405, error_payload(f"{scope['method']} is not allowed on {scope['path']}; use {self.method}"),
                             JSON_HEADERS + [(b"allow", self.method.encode())])
            return
        await self.app(scope, receive, send)


def error_payload(message):
    return orjson.dumps({"error": message})


class ModelServer:
    """Serves one model over the v2 REST protocol, with micro-batching and Prometheus metrics.

    ``max_batch_size`` rows per model call; ``max_latency_ms`` the queueing budget past which new
    requests get 503; ``max_queue_size`` requests waiting at most; ``max_body_bytes`` per request.
    ``port=0`` picks a free port (read it back from ``server.port``).

    The server is composed of replaceable pieces: ``parse_request(body, input_shape)`` validates
    a decoded request into an array, ``take_batch(queue, max_batch_size)`` is the batching policy,
    and ``metrics`` (a ``ServerMetrics``) records what ``/metrics`` shows. ``monitor``, a
    ``ModelMonitor``, adds accuracy, drift and alerts to the ``/dashboard`` page.
    """

    def __init__(self, model, name="model", version="1", host="127.0.0.1", port=8080, *,
                 max_batch_size=64, max_latency_ms=100.0, max_queue_size=1024, max_body_bytes=1 << 20,
                 parse_request=parse_infer_request, take_batch=take_batch, metrics=None, monitor=None):
        self.host = host
        self.requested_port = int(port)
        self.port = None
        self.max_body_bytes = int(max_body_bytes)
        self.served = ServedModel(model, name, version)
        self.parse_request = parse_request
        self.batcher = MicroBatcher(self._predict_batch, max_batch_size, max_latency_ms, max_queue_size, take_batch)
        self.metrics = ServerMetrics() if metrics is None else metrics
        self.batcher.on_batch = self.metrics.batch_size.observe
        self.metrics.model_info.set(1, model=self.served.name, version=self.served.version)
        self.ready = True
        self.in_flight = 0
        self.monitor = monitor
        self.started_at = None
        self.router = self._build_router()
        self._infer_path = f"/v2/models/{self.served.name}/infer"
        self._uvicorn = None
        self._thread = None
        self._loop = None

    @classmethod
    def from_registry(cls, registry, name, alias="champion", **options):
        """Serve the version a registry alias points at (``models:/name@alias``), under the
        registry's model name and version number."""
        record = registry.get_alias(alias, name=name)
        model = registry.load_model(record.version, name=name)
        return cls(model, name=name, version=record.version, **options)

    # -- the model --------------------------------------------------------------------------

    @property
    def model(self):
        return self.served.model

    @property
    def model_name(self):
        return self.served.name

    @property
    def model_version(self):
        return self.served.version

    def _predict_batch(self, x):
        return self.served.predict_batch(x)

    def swap_model(self, new_model, version=None):
        """Hot swap: warm up ``new_model`` while the old one keeps serving, flip, release the old.

        If the new model fails its warm-up or takes different inputs, nothing changes and a
        ValueError says why (the old version keeps serving). Requests in flight finish on the
        version that accepted them; none fail. Returns the new version string.
        """
        if version is None:
            old = self.served.version
            version = str(int(old) + 1) if old.isdigit() else f"{old}+1"
        candidate = ServedModel(new_model, self.served.name, version)
        if candidate.input_shape != self.served.input_shape:
            raise ValueError(
                f"new model takes inputs of shape {candidate.input_shape}, the served one "
                f"{self.served.input_shape}; clients would break: serve it under another name")

        def flip():
            self.served = candidate
            self.metrics.model_info.clear()
            self.metrics.model_info.set(1, model=candidate.name, version=candidate.version)

        self._call_on_loop(flip)
        return candidate.version

    def attach_monitor(self, monitor):
        """Show ``monitor`` (a ``ModelMonitor``: accuracy, drift, alerts) on ``/dashboard``;
        ``None`` detaches it. The server only reads its snapshot, never feeds it."""
        self.monitor = monitor
        return monitor

    def set_ready(self, ready):
        """Readiness as Kubernetes probes see it: ``set_ready(False)`` drains traffic (ready
        endpoints and infer answer 503) while the process stays live."""
        self.ready = bool(ready)

    def _call_on_loop(self, fn):
        """Run ``fn`` on the server's event loop (where requests read the state it changes)."""
        if self._loop is None or not self.is_running:
            fn()
            return

        async def call():
            fn()

        asyncio.run_coroutine_threadsafe(call(), self._loop).result(timeout=10)

    # -- HTTP -------------------------------------------------------------------------------

    async def app(self, scope, receive, send):
        """The ASGI application uvicorn runs."""
        if scope["type"] == "http" and scope["path"] == self._infer_path and scope["method"] == "POST":
            scope["path_params"] = {"name": self.served.name}
            await self._infer(scope, receive, send)
        else:
            await self.router(scope, receive, send)

    def _build_router(self):
        versioned = "/v2/models/{name}/versions/{version}"
        routes = [  # the router tries routes in order: infer first (other names, versions and methods)
            Route("/v2/models/{name}/infer", AsgiEndpoint(self._infer, "POST")),
            Route(versioned + "/infer", AsgiEndpoint(self._infer, "POST")),
            Route("/v2/health/live", self._asgi(self._live)),
            Route("/v2/health/ready", self._asgi(self._ready)),
            Route("/v2", self._asgi(self._server_metadata)),
            Route("/metrics", self._asgi(self._metrics)),
            Route("/dashboard", self._asgi(self._dashboard)),
            Route("/dashboard/data", self._asgi(self._dashboard_data)),
            Route("/v2/models/{name}", self._asgi(self._model_metadata)),
            Route(versioned, self._asgi(self._model_metadata)),
            Route("/v2/models/{name}/ready", self._asgi(self._model_ready)),
            Route(versioned + "/ready", self._asgi(self._model_ready)),
        ]
        return Router(routes, default=self._not_found)

    @staticmethod
    def _asgi(handler):
        """Wrap ``handler(path_params) -> (status, payload, headers)`` as a plain ASGI app."""

        async def endpoint(scope, receive, send):
            try:
                status, payload, headers = handler(scope.get("path_params", {}))
            except InferenceError as error:
                status, payload, headers = error.status, error_payload(error.message), JSON_HEADERS
            await send_bytes(send, status, payload, headers)

        return AsgiEndpoint(endpoint)

    async def _not_found(self, scope, receive, send):
        await send_bytes(send, 404, error_payload(f"no route {scope['method']} {scope['path']}; see GET /v2"))

    def _check_model(self, params):
        """The served model if the path names it (and its current version, if any), else 404."""
        served = self.served
        if params.get("name") != served.name:
            raise InferenceError(404, f"unknown model {params.get('name')!r}; this server serves {served.name!r}")
        if "version" in params and params["version"] != served.version:
            raise InferenceError(404, f"unknown version {params['version']!r} of model {served.name!r}; serving version {served.version!r}")
        return served

    def _live(self, params):
        return 200, orjson.dumps({"live": True}), JSON_HEADERS

    def _ready(self, params):
        return (200 if self.ready else 503), orjson.dumps({"ready": self.ready}), JSON_HEADERS

    def _server_metadata(self, params):
        return 200, orjson.dumps({"name": "tinytorch", "version": "0.1.0", "extensions": []}), JSON_HEADERS

    def _model_metadata(self, params):
        return 200, orjson.dumps(self._check_model(params).metadata()), JSON_HEADERS

    def _model_ready(self, params):
        self._check_model(params)
        return (200 if self.ready else 503), orjson.dumps({"name": self.served.name, "ready": self.ready}), JSON_HEADERS

    def _metrics(self, params):
        text = self.metrics.render(queue_depth=len(self.batcher.queue), in_flight=self.in_flight)
        return 200, text.encode(), TEXT_HEADERS

    def _dashboard(self, params):
        return 200, dashboard_page(), HTML_HEADERS

    def _dashboard_data(self, params):
        data = dashboard_data(self, self.monitor)
        return 200, orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY), JSON_HEADERS

    async def _infer(self, scope, receive, send):
        """POST .../infer: validate, batch, answer. Every failure is a JSON error with its status."""
        started = time.perf_counter()
        self.in_flight += 1
        try:
            served = self._check_model(scope["path_params"])
            if not self.ready:
                raise InferenceError(503, "model is not ready (draining or loading); retry later")
            body = await read_body(scope, receive, self.max_body_bytes)
            try:
                request = orjson.loads(body)
            except orjson.JSONDecodeError as error:
                raise InferenceError(400, f"malformed JSON: {error}") from None
            x = self.parse_request(request, served.input_shape)
            names = requested_outputs(request, OUTPUT_NAMES)
            outputs = await self.batcher.submit(x)
            status = 200
            payload = encode_infer_response(served.name, served.version, request.get("id"),
                                            {name: outputs[name] for name in names})
        except InferenceError as error:
            status, payload = error.status, error_payload(error.message)
        except Exception as error:  # the model raised: report it, keep serving
            status, payload = 500, error_payload(f"model failed: {type(error).__name__}: {error}")
        finally:
            self.in_flight -= 1
        await send_bytes(send, status, payload)
        self.metrics.requests.inc(status=str(status))
        self.metrics.latency.observe(time.perf_counter() - started)

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def url(self):
        return f"http://{self.host}:{self.port if self.port is not None else self.requested_port}"

    @property
    def uptime_seconds(self):
        """Seconds since the server last started serving (None before the first start)."""
        return None if self.started_at is None else time.time() - self.started_at

    @property
    def is_running(self):
        return self._thread is not None and self._thread.is_alive()

    def _bind(self):
        # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on sockets that say they are TCP,
        # and without it Nagle + delayed ACK add 40 ms to every response written in two parts.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.requested_port))
        except OSError as error:
            sock.close()
            raise OSError(error.errno, f"cannot listen on {self.host}:{self.requested_port} ({error.strerror}); "
                                       "stop the server using it or pass port=0 for a free one") from None
        sock.listen(2048)
        self.port = self.requested_port = sock.getsockname()[1]  # port=0: restart keeps the port it got
        return sock

    def _uvicorn_server(self):
        # No proxy-header rewriting (nothing here reads the client address) and no lifespan events.
        # interface: uvicorn cannot tell that a bound method is an ASGI 3 app.
        config = uvicorn.Config(self.app, interface="asgi3", log_config=None, log_level="warning",
                                access_log=False, lifespan="off", proxy_headers=False,
                                server_header=False, timeout_graceful_shutdown=5)
        return uvicorn.Server(config)

    def _serve(self, sock):
        """Run uvicorn on a fresh event loop in the calling thread until ``should_exit``
        (uvloop's if installed, as uvicorn itself would choose)."""
        loop_factory = self._uvicorn.config.get_loop_factory()
        loop = loop_factory() if loop_factory is not None else asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._uvicorn.serve(sockets=[sock]))
        finally:
            sock.close()
            loop.close()
            self._loop = None

    def start(self, timeout=10.0):
        """Serve in a daemon thread and return once the port accepts connections."""
        if self.is_running:
            raise RuntimeError(f"server already running at {self.url}; call stop() first")
        sock = self._bind()
        self._uvicorn = self._uvicorn_server()
        self._thread = threading.Thread(target=self._serve, args=(sock,), name=f"ModelServer:{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._uvicorn.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"server on {self.url} did not start within {timeout} s")
            time.sleep(0.01)
        self.started_at = time.time()
        return self

    def stop(self, timeout=10.0):
        """Finish in-flight requests, close every connection and the listening socket, join the
        thread. Safe to call twice."""
        if self._thread is None:
            return
        self._uvicorn.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._uvicorn.force_exit = True
            self._thread.join(timeout)
        self._thread = None

    def restart(self):
        self.stop()
        return self.start()

    def run(self):
        """Serve in the calling thread until Ctrl-C or SIGTERM (the standalone process)."""
        sock = self._bind()
        self._uvicorn = self._uvicorn_server()
        self.started_at = time.time()
        print(f"serving model {self.model_name!r} version {self.model_version} at {self.url}/v2", flush=True)
        self._serve(sock)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def __repr__(self):
        state = "running" if self.is_running else "stopped"
        return f"ModelServer({self.model_name!r} v{self.model_version} at {self.url}, {state})"
