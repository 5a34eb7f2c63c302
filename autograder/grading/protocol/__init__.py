"""The data-only protocol between the trusted judge and the sandboxed worker.

Both ends import this package; the worker gets a copy of it and nothing else of the grader
(``sandbox.GRADER_MODULES``). It is four parts, each testable on its own, put together by
:class:`Peer` (``peer``):

- ``framing``: messages on a pair of pipes, one line of JSON behind a 10-digit length, at most
  ``MAX_MESSAGE`` bytes (a bigger one is refused where it is made, skipped unread where it arrives);
- ``values``: values as plain data of exact types, rebuilt by the receiving end; nothing is ever
  unpickled or evaluated;
- ``handles``: what is not plain data stays where it lives and crosses as a handle, the judge's
  inert :class:`Handle` or the worker's forwarding :class:`Remote`;
- ``policy``: what the other end may do with the objects this end handed it.

Checks and the grader import the public names from here.
"""

from autograder.grading.protocol.errors import (AnswerTooLarge, CallTimeout, NotPlainData, PeerGone, ProtocolError,
                                                RemoteError)
from autograder.grading.protocol.framing import MAX_MESSAGE
from autograder.grading.protocol.handles import Handle, Remote, by_reference, take
from autograder.grading.protocol.peer import Peer
from autograder.grading.protocol.policy import Policy

__all__ = ["MAX_MESSAGE", "AnswerTooLarge", "CallTimeout", "Handle", "NotPlainData", "Peer", "PeerGone", "Policy",
           "ProtocolError", "Remote", "RemoteError", "by_reference", "take"]
