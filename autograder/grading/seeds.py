"""Each student's hidden-check inputs: a seed from the student id and the course secret.

The hidden checks draw random inputs (``autograder/checks/conftest.py``). With one fixed seed the
inputs a feedback page shows would be everyone's, every term, and a resubmission could hard-code
them. So autograding derives one seed per student and notebook from the course secret
(``c.JudgedExecute.secret`` in ``nbgrader_config.py``): another student, or the same student in a
term with a new secret, gets other inputs, and regrading one submission gives the same score.

A course without a configured secret is not given a predictable one: the first grading makes a
random secret, keeps it in ``.grading_secret`` in the course directory (readable by its owner
only), warns in the log, and later gradings reuse it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import tempfile
from pathlib import Path

SECRET_FILE = ".grading_secret"


def student_seed(secret: str, student: str, notebook: str) -> int:
    """A 63-bit seed for ``student``'s checks of ``notebook`` under ``secret``."""
    digest = hmac.new(secret.encode(), f"{student}\0{notebook}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def course_secret(root: Path, log=None) -> str:
    """The secret kept in ``root/.grading_secret``, made (random, mode 0600) the first time. Two
    gradings starting at once agree: the file appears whole (a hard link), and the first one wins."""
    path = Path(root) / SECRET_FILE
    if not path.exists():
        fd, draft = tempfile.mkstemp(prefix=".grading_secret-", dir=root)  # mode 0600
        try:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32) + "\n")
            os.link(draft, path)
            if log is not None:
                log.warning("No c.JudgedExecute.secret in nbgrader_config.py: each student's hidden-check inputs come "
                            "from a random secret kept in %s. Keep that file (regrades need it), or set the secret "
                            "and delete it.", path)
        except FileExistsError:
            pass
        finally:
            os.unlink(draft)
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd) as f:
        secret = f.read().strip()
    if not secret:
        raise RuntimeError(f"{path} is empty: delete it (a new secret is made) or set c.JudgedExecute.secret "
                           "in nbgrader_config.py")
    return secret
