"""Find the damage in a registry and move it aside: `python -m tinytorch.core.mlops.registry.recover`.

    python -m tinytorch.core.mlops.registry.recover ROOT           # say what would be quarantined
    python -m tinytorch.core.mlops.registry.recover ROOT --apply   # move it to ROOT/quarantine/

Quarantined are the files a registry cannot use and must not silently skip forever: damaged or
edited version records, and files in `blobs/` that are not intact artifacts (special files,
symlinks, strays). They are moved, never deleted, into `ROOT/quarantine/<UTC time>/` under
their path relative to ROOT, and the ledger records each quarantined version, so the registry
verifies clean afterwards (an empty record stays behind, so the number is never reused).
Problems that moving a file cannot fix (a broken ledger chain, a malformed alias-log line, an
alias pointing at a quarantined version) are listed for a person to judge: the logs are
append-only evidence and are never rewritten.

Exit status: 0 when nothing needs quarantining (or it was quarantined with --apply), 1 when a
dry run found something, 2 for a usage error.
"""

import argparse
import datetime
import os
import sys
from pathlib import Path

from .model_registry import ModelRegistry


def quarantine_plan(registry: ModelRegistry) -> tuple:
    """(files to move, problems to report) from `registry.verify()`: a problem whose file is a
    version record or a blob can be fixed by moving that file; the rest cannot."""
    to_move, to_report = [], []
    for problem in registry.verify():
        path = problem.path
        movable = (path.exists() or path.is_symlink()) and (
            path.parent == registry.blobs.root
            or (path.suffix == ".json" and path.parent.name == "versions"))
        if not movable:
            to_report.append(problem)
        elif problem.path not in {p.path for p in to_move}:  # a shared blob is moved once
            to_move.append(problem)
    return to_move, to_report


def apply_quarantine(registry: ModelRegistry, problems: list) -> Path:
    """Move each problem's file under `<root>/quarantine/<UTC time>/` and record quarantined
    versions in their model's ledger; return the quarantine directory."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    target_root = registry.root / "quarantine" / stamp
    for problem in problems:
        target = target_root / problem.path.relative_to(registry.root)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(problem.path, target)  # moves a symlink or special file itself, unread
        if problem.version is not None and problem.path.parent.name == "versions":
            # An empty record keeps the version number taken, so it is never reused.
            os.close(os.open(problem.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
            registry.ledger(problem.path.parent.parent.name).mark("quarantine", problem.version)
    return target_root


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tinytorch.core.mlops.registry.recover",
        description="List (or, with --apply, move aside) the damaged files of a model registry.")
    parser.add_argument("root", type=Path, help="the registry directory")
    parser.add_argument("--apply", action="store_true", help="move the files (default: dry run)")
    args = parser.parse_args(argv)
    if not (args.root / "models").is_dir():
        parser.error(f"{args.root} is not a model registry (it has no models/ directory)")
    registry = ModelRegistry(args.root)
    to_move, to_report = quarantine_plan(registry)
    verb = "quarantined" if args.apply else "would quarantine"
    for problem in to_move:
        print(f"{verb} {problem.path.relative_to(args.root)}: {problem.message}")
    for problem in to_report:
        print(f"needs a person: {problem}")
    if not (to_move or to_report):
        print(f"{args.root}: no problems found")
    if args.apply and to_move:
        print(f"moved {len(to_move)} file(s) to {apply_quarantine(registry, to_move)}")
        return 0
    return 1 if to_move else 0


if __name__ == "__main__":
    sys.exit(main())
