"""``python -m lthlib reproduce``: list, estimate, run and draw a figure."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lthlib.apps.reproduce.figures import Figure, Plan, REPO_ROOT
from lthlib.apps.reproduce.registry import FIGURES
from lthlib.apps.reproduce.running import NotConfirmed, reproduce
from lthlib.data.datasets import DatasetUnavailableError
from lthlib.settings import SCALES
# notebook 04's values, read from the module that owns them (the width study's fraction
# kept; Zhou et al.'s criteria, fractions kept per layer at smoke and quick, starts)


# ---------------------------------------------------------------------------------- CLI
def list_figures() -> str:
    width = max(len(i) for i in FIGURES)
    return "\n".join(f"{fid.ljust(width)}  {f.description}" for fid, f in FIGURES.items())


def _ask(figure: Figure, plan: Plan, est: Mapping[str, Any]) -> bool:
    try:
        answer = input(f"Run {figure.id} at paper scale (about {est['hours']:.3g} hours here)? [y/N] ")
    except (EOFError, OSError):  # stdin closed, or not readable (captured)
        print("\n(no answer: standard input cannot be read; pass --yes to run without asking)")
        return False
    return answer.strip().lower() in ("y", "yes")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m lthlib reproduce``: ``--list``, or ``ID [--scale ...] [--seeds N] [--out DIR]
    [--results DIR] [--yes] [--ray ADDRESS]``. Returns the exit status (0 done; 1 not
    confirmed; 2 cannot start or finish: missing dataset, bad arguments, Ray missing or the
    cluster unreachable, a task failed)."""
    from lthlib.core.store import folder_problem

    parser = argparse.ArgumentParser(
        prog="python -m lthlib reproduce",
        description="Reproduce a paper's figure by name (see --list), with provenance: writes <id>.png, "
                    "<id>.pdf and <id>.provenance.json.")
    parser.add_argument("figure", nargs="?", metavar="ID", help="the figure id (see --list)")
    parser.add_argument("--list", action="store_true", help="list the figure ids, one line each")
    parser.add_argument("--scale", choices=SCALES, default="quick",
                        help="smoke: seconds (tests); quick: minutes on a CPU, offline MNIST-1D stand-in "
                             "(default); paper: the published model and dataset")
    parser.add_argument("--seeds", type=int, default=None, metavar="N",
                        help="independent seeds (default: the figure's, as its notebook; smoke runs at most 2)")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="folder for the figure and its provenance (default: build/reproduce/<scale>)")
    parser.add_argument("--results", default=str(REPO_ROOT / "results"), metavar="DIR",
                        help="experiment store, shared with the notebooks and reused (default: results/)")
    parser.add_argument("--device", default="auto", help="auto (CUDA, else MPS, else CPU), cpu, cuda, mps")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation at paper scale")
    parser.add_argument("--no-download", action="store_true",
                        help="never download a dataset; stop when its files are not in the data folder")
    parser.add_argument("--estimate-only", action="store_true", help="print the estimate and stop")
    parser.add_argument("--ray", default=None, metavar="ADDRESS",
                        help="train the seeds as Ray tasks on a cluster (one task per seed, one GPU each where the "
                             "cluster has GPUs), then draw the figure here from the store: auto (the cluster "
                             "`ray start` started), HOST:PORT, ray://HOST:10001, or local; --results must be a "
                             "folder every node sees (default: worker processes on this machine)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.list:
        print(list_figures())
        return 0
    if args.figure is None:
        parser.error("name a figure ID (python -m lthlib reproduce --list shows them)")
    if args.figure not in FIGURES:
        parser.error(f"unknown figure {args.figure!r}; known: {', '.join(FIGURES)}")
    if args.seeds is not None and args.seeds < 1:
        parser.error(f"--seeds {args.seeds}: must be an integer >= 1")
    out = Path(args.out) if args.out is not None else REPO_ROOT / "build" / "reproduce" / args.scale
    for flag, path in (("out", out), ("results", args.results)):
        problem = folder_problem(path)
        if problem:
            parser.error(f"--{flag} {path}: {problem}")
    try:
        from lthlib.core.devices import resolve_device

        resolve_device(args.device)
    except ValueError as err:
        parser.error(str(err))
    from lthlib.engine.cluster import ClusterError, import_ray

    if args.ray is not None and not args.estimate_only:
        try:
            import_ray()
        except ClusterError as err:
            parser.error(str(err))
    confirm = _ask if args.scale == "paper" and not args.yes and not args.estimate_only else None
    try:
        reproduce(args.figure, args.scale, args.seeds, out=out, results=args.results, device=args.device,
                  download=not args.no_download, confirm=confirm, estimate_only=args.estimate_only,
                  argv=list(argv) if argv is not None else sys.argv[1:], ray=args.ray)
    except (DatasetUnavailableError, ClusterError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except NotConfirmed as err:
        print(str(err), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
