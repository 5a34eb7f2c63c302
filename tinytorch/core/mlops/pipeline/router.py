"""TrafficRouter: one address for clients in front of the stable and canary model servers.

In a cluster this is the Kubernetes Service (or an Istio VirtualService with weights) in front of
two Deployments; here it is a small object every client request goes through, and the requests
themselves are real HTTP calls to real ``ModelServer`` processes' ports on 127.0.0.1. It does
three things a mesh does:

- splits traffic by a sticky hash of the unit id (``CanaryRollout.route``), so raising the canary
  share only adds units and nobody flips between versions;
- retries a request the canary failed on stable (Envoy's ``retry_on: 5xx``), so a broken canary
  costs its error-rate figure, never a client's request;
- counts requests in flight per backend, so a retired server is stopped only once drained.
"""

import http.client
import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from tinytorch.core.mlops.serving.protocol import InferenceError

from .canary import ArmStats


class ServiceUnavailable(RuntimeError):
    """No backend could answer the request (the client sees a failed request)."""


class Backend:
    """A running ModelServer serving one registered version, and the client that calls it."""

    def __init__(self, server, version):
        from tinytorch.core.mlops.serving import InferenceEndpoint

        self.server = server
        self.version = str(version)
        self.endpoint = InferenceEndpoint(server)
        self.in_flight = 0
        self._lock = threading.Lock()

    @property
    def url(self):
        return self.server.url

    def predict(self, x):
        with self._lock:
            self.in_flight += 1
        try:
            return self.endpoint.predict(x)
        finally:
            with self._lock:
                self.in_flight -= 1

    def drain(self, timeout=10.0):
        """Wait until no request is in flight on this backend (it gets no new ones)."""
        deadline = time.monotonic() + timeout
        while self.in_flight and time.monotonic() < deadline:
            time.sleep(0.002)
        return self.in_flight == 0

    def stop(self):
        self.drain()
        self.server.stop()

    def __repr__(self):
        return f"Backend(version {self.version} at {self.url})"


class ArmWindow:
    """Live figures of one arm since it was last reset (the rollout's evidence)."""

    def __init__(self):
        self.requests = self.errors = self.labelled = self.correct = 0
        self.latencies = []

    def record(self, latency, ok, correct):
        self.requests += 1
        if ok:
            self.latencies.append(latency)
        else:
            self.errors += 1
        if correct is not None:
            self.labelled += 1
            self.correct += int(correct)

    def stats(self):
        p99 = float(np.percentile(self.latencies, 99) * 1000) if self.latencies else None
        return ArmStats(self.requests, self.errors, p99, self.labelled, self.correct)


@dataclass(frozen=True)
class RequestRecord:
    """One client request as the router saw it (for the run report's timeline)."""

    time: float
    arm: str
    version: str
    latency: float
    ok: bool
    correct: bool | None
    retried: bool


TRANSPORT_ERRORS = (OSError, http.client.HTTPException)  # refused, reset, timed out, garbled


class TrafficRouter:
    """Routes each request to stable or canary, records both arms' figures and a request log,
    feeds an optional ``ModelMonitor`` with what clients experienced. ``timer`` times each
    request (``time.perf_counter``; tests inject one so that latencies, and the canary's
    latency verdict, do not depend on how busy the machine is)."""

    def __init__(self, monitor=None, log_size=200_000, timer=time.perf_counter):
        self.monitor = monitor
        self.timer = timer
        self.stable = None
        self.canary = None
        self.rollout = None
        self.arms = {"stable": ArmWindow(), "canary": ArmWindow()}
        self.log = deque(maxlen=log_size)
        self.client_failures = 0
        self.started = time.time()
        self._lock = threading.Lock()

    # -- switching (each one atomic with respect to routing) -----------------------------------
    def set_stable(self, backend):
        """Send all traffic to ``backend``; returns the backend it replaces."""
        with self._lock:
            previous, self.stable = self.stable, backend
            self.canary = self.rollout = None
            self._reset()
        return previous

    def start_canary(self, backend, rollout):
        """Split traffic between stable and ``backend`` as ``rollout`` (a CanaryRollout whose
        models are the two backends) says."""
        with self._lock:
            if self.stable is None:
                raise RuntimeError("nothing is serving yet: deploy a stable version before a canary")
            self.canary, self.rollout = backend, rollout
            self._reset()

    def end_canary(self, promote):
        """Promote (the canary becomes stable) or abort (all traffic back to stable); returns
        the backend that no longer gets traffic."""
        with self._lock:
            retired = self.stable if promote else self.canary
            if promote:
                self.stable = self.canary
            self.canary = self.rollout = None
            self._reset()
        return retired

    def _reset(self):
        self.arms = {"stable": ArmWindow(), "canary": ArmWindow()}

    def arm_stats(self):
        with self._lock:
            return self.arms["stable"].stats(), self.arms["canary"].stats()

    # -- serving -------------------------------------------------------------------------------
    def predict(self, unit_id, x, label=None):
        """The class id for one row ``x`` from unit ``unit_id``; ``label``, when known, is the
        true class (labels arrive with the request in this simulation; in production they are
        joined later by request id). Raises ServiceUnavailable if no backend answered."""
        with self._lock:
            if self.stable is None:
                raise ServiceUnavailable("no model is deployed")
            arm, backend = ("stable", self.stable)
            if self.canary is not None:
                arm, backend = self.rollout.route(unit_id)
            stable, arms = self.stable, self.arms
        prediction, retried = self._call(arm, backend, x, label, arms), False
        if prediction is None and arm == "canary":
            retried = True
            prediction = self._call("stable", stable, x, label, arms, retried=True)
        if prediction is None:
            with self._lock:
                self.client_failures += 1
            if self.monitor is not None:
                self.monitor.track_error()
            raise ServiceUnavailable(f"version {backend.version} failed and no fallback answered")
        return prediction

    def _call(self, arm, backend, x, label, arms, retried=False):
        started = self.timer()
        try:
            prediction = int(backend.predict(x)[0])
        except (InferenceError, *TRANSPORT_ERRORS):
            prediction = None
        latency = self.timer() - started
        ok = prediction is not None
        correct = None if label is None or not ok else prediction == int(label)
        with self._lock:
            arms[arm].record(latency, ok, correct)
            self.log.append(RequestRecord(time.time(), arm, backend.version, latency, ok, correct, retried))
        if ok and self.monitor is not None:
            self.monitor.track_latency(latency)
            if correct is not None:
                self.monitor.track_accuracy([prediction], [int(label)])
        return prediction
