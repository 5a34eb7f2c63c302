"""Build the course: templates -> source notebooks -> the release, and the student edition.

Owns the template format (``template_format``), building notebooks from templates and the hidden
checks' paths (``notebooks``), nbgrader's release and the course directory (``course``) and the
student edition of the repository (``publish``).

May import: only ``autograder.authoring``. It is the bottom layer: grading, the class tools and the
proofs build on it, so it imports none of them (``publish`` reads ``grading/probes.py`` as a file to
ship, never as a module).
"""
