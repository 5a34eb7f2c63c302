"""Messages on a pair of pipes: one line of JSON behind a 10-digit length, at most ``MAX_MESSAGE`` bytes.

A bigger message is refused where it is made (:class:`AnswerTooLarge`); one the other end sends
anyway is skipped unread, and the reader gets :class:`AnswerTooLarge` too. ``deadline`` (a
``time.monotonic()`` value, or None) bounds every wait for the other end (:class:`CallTimeout`).
"""

from __future__ import annotations

import json
import os
import select
import time

from autograder.grading.protocol.errors import AnswerTooLarge, CallTimeout, PeerGone, ProtocolError

HEADER = 10  # digits of the length prefix
MAX_MESSAGE = 16 * 2**20  # bytes of one message's body


class Framing:
    """Sends and receives whole messages (JSON objects) on the file descriptors ``rfd`` and ``wfd``."""

    def __init__(self, rfd: int, wfd: int):
        self.rfd, self.wfd = rfd, wfd
        self.deadline: float | None = None  # monotonic time after which a wait raises CallTimeout
        self._buffer = bytearray()

    def send(self, message: dict) -> None:
        body = json.dumps(message, separators=(",", ":"), allow_nan=False).encode()
        if len(body) > MAX_MESSAGE:
            raise AnswerTooLarge(f"answer too large: {len(body)} bytes, over the {MAX_MESSAGE} byte limit of a message")
        data = memoryview(b"%010d" % len(body) + body)
        while data:
            try:
                written = os.write(self.wfd, data)
            except (BrokenPipeError, OSError) as error:
                raise PeerGone(f"the other end is gone ({error})") from None
            data = data[written:]

    def _wait(self) -> None:
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0 or not select.select([self.rfd], [], [], left)[0]:
                raise CallTimeout("the call did not return in time")

    def _read_into(self, view: memoryview | None, n: int) -> None:
        """Fill ``view`` (``n`` bytes) from what is buffered, then straight from the pipe; with
        ``view`` None, read ``n`` bytes and drop them (an oversized message)."""
        done = min(n, len(self._buffer))
        if view is not None:
            view[:done] = self._buffer[:done]
        del self._buffer[:done]
        while done < n:
            self._wait()
            try:
                got = self._read_some(view, done, n)
            except ConnectionResetError:  # a socket whose other end died with data unread
                got = 0
            if not got:
                raise PeerGone("the other end closed the connection")
            done += got

    def _read_some(self, view: memoryview | None, done: int, n: int) -> int:
        """One read of what is left of ``view`` (from ``done`` to ``n``); the bytes it got."""
        if view is not None and n - done >= 65536:  # a big body: no copy through the buffer
            return os.readv(self.rfd, [view[done:]])
        chunk = os.read(self.rfd, 65536 if view is not None else min(n - done, 2**20))
        got = min(len(chunk), n - done)
        if view is not None:
            view[done:done + got] = chunk[:got]
        self._buffer += chunk[got:]
        return got or len(chunk)

    def receive(self) -> dict:
        header = bytearray(HEADER)
        self._read_into(memoryview(header), HEADER)
        if not header.isdigit():
            raise ProtocolError("a malformed message header")
        size = int(header)
        if size > MAX_MESSAGE:
            self._read_into(None, size)
            raise AnswerTooLarge(f"answer too large: {size} bytes, over the {MAX_MESSAGE} byte limit of a message")
        body = bytearray(size)
        self._read_into(memoryview(body), size)
        try:
            message = json.loads(body)
        except (ValueError, RecursionError) as error:
            raise ProtocolError(f"a malformed message: {str(error)[:200]}") from None
        if not isinstance(message, dict):
            raise ProtocolError("a message must be an object")
        return message
