"""Run the MLOps loop end to end on the shipped digits and write the report:

    python -m tinytorch.core.mlops.pipeline --out runs/latest
"""

import argparse
import sys
from pathlib import Path

from .report import write_report
from .scenario import run_loop


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tinytorch.core.mlops.pipeline", description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="runs/latest", help="directory for report.md, figures and the registry")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--clients", type=int, default=3, help="concurrent client threads")
    args = parser.parse_args(argv)
    out = Path(args.out)
    result = run_loop(out / "mlops", seed=args.seed, clients=args.clients)
    path = write_report(result, out)
    failed = result.traffic.failed
    print(f"{result.traffic.sent} requests, {failed} failed; decisions: "
          + ", ".join(f"{r} {d.action}@{s:.0%}" for r, s, d in result.decisions))
    print(f"report: {path} ({result.seconds:.1f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
