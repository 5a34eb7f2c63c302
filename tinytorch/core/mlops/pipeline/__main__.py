"""Run the MLOps loop end to end on the shipped digits and write the report:

    python -m tinytorch.core.mlops.pipeline --out runs/latest

Each run starts from an empty registry (``<out>/mlops``, replaced), so that two runs with the
same seed register the same versions and take the same decisions.
"""

import argparse
import shutil
import sys
from pathlib import Path

from .report import write_report
from .scenario import run_loop


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tinytorch.core.mlops.pipeline", description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="runs/latest",
                        help="directory for report.md, figures and the registry (<out>/mlops, replaced)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--clients", type=int, default=3, help="concurrent client threads")
    args = parser.parse_args(argv)
    out = Path(args.out)
    root = out / "mlops"
    if root.exists():
        if not (root / "registry").is_dir():
            parser.error(f"{root} exists and is not a registry written by this command; "
                         "choose another --out or remove it")
        shutil.rmtree(root)
    result = run_loop(root, seed=args.seed, clients=args.clients)
    path = write_report(result, out)
    failed = result.traffic.failed
    print(f"{result.traffic.sent} requests, {failed} failed; decisions: "
          + ", ".join(f"{r} {d.action}@{s:.0%}" for r, s, d in result.decisions))
    print(f"report: {path} ({result.seconds:.1f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
