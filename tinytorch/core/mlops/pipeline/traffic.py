"""Live traffic for the end-to-end run: client threads sending real HTTP requests through the
router, and the drift injected into what they send."""

import threading
import time

import numpy as np

from tinytorch.core.mlops.serving.protocol import InferenceError

from .router import TRANSPORT_ERRORS, ServiceUnavailable

REQUEST_FAILURES = (ServiceUnavailable, InferenceError, *TRANSPORT_ERRORS)
"""What a client request may fail with: counted as a failed request. Anything else (a graded
piece not exported, a bug in it) stops the traffic and is raised by ``wait_for`` in the caller."""


def thicker_strokes(X):
    """The digits as a new population of writers with thicker pens would draw them: each pixel
    takes the maximum of itself and its right neighbour (a one-pixel horizontal dilation)."""
    images = np.asarray(X, dtype=np.float32).reshape(-1, 8, 8)
    padded = np.pad(images, ((0, 0), (0, 0), (0, 1)))
    return np.maximum(padded[:, :, :-1], padded[:, :, 1:]).reshape(len(images), 64)


class TrafficGenerator:
    """``clients`` threads, each sending one labelled row at a time (closed loop) through
    ``predict(unit_id, x, label)`` until ``stop()``. ``use(X, y)`` switches the population the
    rows are drawn from, without pausing. Every request has a fresh unit id."""

    def __init__(self, predict, X, y, clients=3, seed=0):
        self.predict = predict
        self.source = (np.asarray(X, np.float32), np.asarray(y))
        self.clients = int(clients)
        self.seed = seed
        self.sent = 0
        self.failed = 0
        self.failures = []
        self.error = None              # what stopped a client thread, raised by wait_for
        self.served_rows = []          # the inputs the service saw, for drift detection
        self._next_unit = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = []

    def use(self, X, y):
        self.source = (np.asarray(X, np.float32), np.asarray(y))

    def recent_inputs(self, n):
        with self._lock:
            return np.array(self.served_rows[-n:])

    def _client(self, index):
        rng = np.random.default_rng([self.seed, index])
        while not self._stop.is_set():
            X, y = self.source
            row = int(rng.integers(len(X)))
            with self._lock:
                unit = self._next_unit = self._next_unit + 1
            try:
                self.predict(f"unit-{unit}", X[row], int(y[row]))
            except REQUEST_FAILURES as error:  # a failed client request is the figure we report
                with self._lock:
                    self.failed += 1
                    self.failures.append(f"{type(error).__name__}: {error}")
            except Exception as error:  # not the service failing: the code routing the request
                self.error = error
                self._stop.set()
                return
            with self._lock:
                self.sent += 1
                self.served_rows.append(X[row])
                del self.served_rows[:-5000]

    def start(self):
        self._stop.clear()
        self._threads = [threading.Thread(target=self._client, args=(i,), daemon=True, name=f"client-{i}")
                         for i in range(self.clients)]
        for thread in self._threads:
            thread.start()
        return self

    def wait_for(self, requests, timeout=60.0):
        """Block until ``requests`` more requests were sent; raise what stopped a client thread."""
        target, deadline = self.sent + requests, time.monotonic() + timeout
        while self.sent < target:
            if self.error is not None:
                raise self.error
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {self.sent} of {target} requests sent in {timeout} s")
            time.sleep(0.01)

    def stop(self):
        self._stop.set()
        for thread in self._threads:
            thread.join(10)
