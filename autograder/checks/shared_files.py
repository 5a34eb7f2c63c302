"""Reading, in the judge, a file the submission's worker made or could change.

A check's files in ``tmp_path`` live in the worker's scratch, where the submission may put a
symlink (to a file of the grading machine, or ``/dev/zero``) or a FIFO in place of the file a
check reads. ``read_shared`` reads only a regular file, never through a symlink, and at most
``limit`` bytes: anything else fails the check, saying what was found.
"""

import os
import stat

MAX_BYTES = 16 * 2**20


def read_shared(path, limit: int = MAX_BYTES) -> bytes:
    """The bytes of the regular file ``path`` (not a symlink), at most ``limit`` of them."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        raise AssertionError(f"{os.path.basename(path)} could not be read as a file ({error.strerror})") from None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise AssertionError(f"{os.path.basename(path)} is not a regular file")
        data = f.read(limit + 1)
    if len(data) > limit:
        raise AssertionError(f"{os.path.basename(path)} holds more than {limit} bytes")
    return data
