"""What can go wrong between the judge and the worker: the exceptions every part of the protocol raises."""

MAX_TEXT = 4000  # characters of an exception message (or a repr) that cross


class ProtocolError(Exception):
    """The other end sent something this protocol does not allow, or broke the connection."""


class PeerGone(ProtocolError):
    """The other end closed the connection or died."""


class AnswerTooLarge(ProtocolError):
    """An answer bigger than ``MAX_MESSAGE`` bytes: refused, not read."""


class NotPlainData(TypeError):
    """A student's object (a :class:`Handle`) was used where only plain data may be."""


class CallTimeout(Exception):
    """A call did not return before its deadline."""


class RemoteError(Exception):
    """An exception raised on the other end whose type this end does not know."""
