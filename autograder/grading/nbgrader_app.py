"""nbgrader's command line (``python -m autograder.grading.nbgrader_app ARGS`` = ``nbgrader ARGS``), started
about 2-3 s faster.

Importing nbformat imports jsonschema, which imports ``rfc3987_syntax`` to check the "iri"
string format, and that module builds a parser grammar at import: 2-3 s of every nbgrader process
on a busy 2-core machine. No notebook schema uses that format, so the import is marked missing
(jsonschema then skips that one check) before nbgrader starts.
"""

import sys

sys.modules.setdefault("rfc3987_syntax", None)

from nbgrader.apps.nbgraderapp import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
