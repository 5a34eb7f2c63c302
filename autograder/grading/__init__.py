"""Grade a notebook: the judge, the sandboxed worker, the protocol between them, nbgrader's plug-ins.

Owns the judge (``judge``) and its driver in nbgrader's process (``engine``), the sandbox and job
slots (``sandbox``, ``cgroups``), the data-only protocol (``protocol``), the worker and the public
probes it offers the checks (``worker``, ``probes``), which visible tests count (``visible``), the
credit policy (``credit``), per-student seeds (``seeds``), nbgrader's preprocessors, app and
feedback page (``preprocessors``, ``nbgrader_app``, ``feedback_html``).

May import: ``autograder.grading`` and ``autograder.authoring`` (paths, notebooks, the student
edition). Must not import the class tools (``autograder.classroom``) or the proofs
(``autograder.proof``): grading one notebook needs no roster, deadline or LMS.

The worker's side (``worker``, ``protocol``, ``probes``: ``sandbox.GRADER_MODULES``) runs inside
the sandbox with nothing but a copy of those files at the same paths, so it imports only them and
the standard library (the worker also the student edition of ``tinytorch`` and IPython).
"""
