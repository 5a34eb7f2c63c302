"""FNV-1a, the 32-bit string hash behind sticky assignment (GrowthBook's SDKs use it too).

It lives in its own module so that assignment can be taught (and graded) separately from it.
"""

from __future__ import annotations


def fnv1a_32(text):
    """Return the 32-bit FNV-1a hash of ``text`` (a str, hashed as UTF-8 bytes) as an int.

    FNV-1a starts from the offset basis 0x811C9DC5 and, for every byte, XORs the byte in and then
    multiplies by the FNV prime 0x01000193, keeping the low 32 bits. It is tiny, fast and the same
    in every language and process, which is what sticky A/B assignment needs; Python's ``hash()``
    is salted per process and would reshuffle users at every restart.

    >>> hex(fnv1a_32("a"))
    '0xe40c292c'
    """
    if not isinstance(text, str):
        raise TypeError(f"fnv1a_32 hashes text: got {type(text).__name__}; pass str(value)")
    h = 0x811C9DC5  # FNV-1a 32-bit offset basis
    for byte in text.encode("utf-8"):
        h ^= byte
        h = (h * 0x01000193) & 0xFFFFFFFF  # FNV prime, keep 32 bits
    return h
