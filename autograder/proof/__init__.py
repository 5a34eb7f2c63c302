"""Prove the grading right: the self-check on synthetic submissions and mutation testing.

Owns the self-check (``selfcheck``) and its cases (``synthetic``, reading
``autograder/selfcheck_cases/``) and mutation testing of the hidden checks (``mutation``,
``mutation_operators``, with ``mutation_equivalents.toml`` and ``mutation_scores.json``).

May import: every other part (``authoring``, ``grading``, ``classroom``): it exercises them as an
instructor would. Nothing but the command line (``autograder.__main__``) imports it.
"""
