"""One end of the connection: its framing, its values and handles, its policy, put together.

Each end serves the other's requests while it waits for a reply, so a judge can hand the worker a
callback and the worker can call it in the middle of a call.
"""

from __future__ import annotations

import itertools
import threading

from autograder.grading.protocol.errors import AnswerTooLarge, CallTimeout, PeerGone, ProtocolError
from autograder.grading.protocol.framing import Framing
from autograder.grading.protocol.handles import Handle, ObjectTable
from autograder.grading.protocol.policy import Policy
from autograder.grading.protocol.values import Values, decode_error, encode_error


class Peer:
    """One end of the connection: encodes, sends, receives, and serves the other end's requests.

    ``handle_type`` is what an object of the other end becomes here: the inert :class:`Handle`
    by default (the judge), the forwarding :class:`Remote` where the other end is trusted (the
    worker, whose handles are the judge's objects)."""

    handle_type: type = Handle

    def __init__(self, rfd: int, wfd: int, policy: Policy | None = None):
        self.framing = Framing(rfd, wfd)
        self.policy = policy or Policy()
        self.objects = ObjectTable()
        self.values = Values(self, self.objects, self.handle_type)
        self.lock = threading.RLock()
        self._seq = itertools.count(1)

    @property
    def rfd(self) -> int:
        return self.framing.rfd

    @property
    def wfd(self) -> int:
        return self.framing.wfd

    @property
    def deadline(self) -> float | None:
        """The monotonic time after which a call raises :class:`CallTimeout` (None: no limit)."""
        return self.framing.deadline

    @deadline.setter
    def deadline(self, value: float | None) -> None:
        self.framing.deadline = value

    def encode(self, value):
        return self.values.encode(value)

    def decode(self, data):
        return self.values.decode(data)

    def send(self, message: dict) -> None:
        self.framing.send(message)

    def receive(self) -> dict:
        return self.framing.receive()

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
                        raise decode_error(message["error"] if isinstance(message["error"], dict) else {})
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
            reply = {"res": seq, "error": encode_error(error)}
        try:
            self.send(reply)
        except AnswerTooLarge as error:
            self.send({"res": seq, "error": encode_error(error)})

    def serve_forever(self) -> None:
        while True:
            self.serve_one(self.receive())

    def perform(self, op: str, message: dict):
        """Carry out one request of the other end, within this end's policy."""
        return self.policy.perform(op, message, self.objects, self.decode)
