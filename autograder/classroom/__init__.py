"""Run a class: collect submissions, the roster and deadlines, grade in batches, grades out.

Owns collecting submissions from nbgrader's exchange and LMS downloads (``collect``,
``lms_collector``, ``lms_archive``), the roster and due dates (``roster``, ``deadlines``), grading a
class in parallel with one warm nbgrader process per job slot, and merging a cluster's results
(``batch``, ``slot_runner``, ``merge``), the gradebook's exports (``grades``, ``lms_export``,
``csv_safe``) and similarity between submissions (``similarity``).

May import: ``autograder.classroom``, ``autograder.grading`` (to grade) and ``autograder.authoring``
(the course directory). Must not import the proofs (``autograder.proof``).
"""
