"""Fill ``{{REPOSITORY_URL}}`` and ``{{REPOSITORY_NAME}}`` in the book's Markdown pages from
``_config.yml`` (``repository: url:``), the one place that names the student repository: the
launch buttons, the notebooks' Colab set-up cell and the published README read it too, and
``python -m autograder publish --repo-url URL`` changes it.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the book is built from the repository root; make sure it imports
    sys.path.insert(0, str(ROOT))

from autograder.authoring.notebooks import repository_url  # noqa: E402
from autograder.authoring.publish import fill_repository  # noqa: E402


def fill(app, docname, source):
    source[0] = fill_repository(source[0], repository_url())


def setup(app):
    app.connect("source-read", fill)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
