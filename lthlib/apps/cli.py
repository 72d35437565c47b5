"""Command line: ``python -m lthlib run`` executes the notebooks in order with papermill;
``python -m lthlib assignments release|check|nbval`` handles the graded assignments
(``lthlib.apps.assignments``); ``python -m lthlib reproduce`` reproduces a paper's figure by id
(``lthlib.apps.reproduce``).

Executed notebooks go to ``<out>/notebooks``, figures to ``<out>/figures/<notebook>``,
each notebook's checked claims to ``<out>/claims/<notebook>.json``, results to the
experiment store (``results/``, reused by later runs). It ends with a table of every
notebook's claims. The exit status is non-zero when a notebook fails (the failing
notebook and cell are named), and with ``--check-claims`` when a headline claim does not
hold. ``--profile`` counts what each notebook trains and evaluates (``lthlib.core.profile``:
training steps, evaluation passes, seconds in each, over the kernel and its worker
processes) into ``<out>/profile/<notebook>.jsonl`` and prints them as a table.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from lthlib.core.profile import ENV as PROFILE_ENV
from lthlib.core.warm_kernel import warm_kernels
from lthlib.settings import SCALES

REPO_ROOT = Path(__file__).resolve().parents[2]
# A cell that runs longer than this is stopped and reported (a stuck kernel must not hang
# the run). Paper-scale cells may legitimately train for hours: no limit there.
DEFAULT_CELL_TIMEOUT = {"smoke": 600, "quick": 1_800, "paper": None}


@dataclass
class Outcome:
    notebook: str
    status: str
    seconds: float
    figures: str
    detail: str = ""


def find_notebooks(folder: Path, only: list[str] | None) -> list[Path]:
    """Notebooks ``NN_*.ipynb`` in order; ``only`` keeps those whose name starts with one
    of the given prefixes (``01``, ``02_iter``...)."""
    if not folder.is_dir():
        raise SystemExit(f"error: notebook folder {folder} does not exist (use --notebooks DIR)")
    notebooks = sorted(p for p in folder.glob("*.ipynb") if p.stem[:2].isdigit())
    if only:
        unmatched = [o for o in only if not any(p.stem.startswith(o) for p in notebooks)]
        if unmatched:
            raise SystemExit(f"error: --only {' '.join(unmatched)} matches no notebook; "
                             f"notebooks: {', '.join(p.stem for p in notebooks)}")
        notebooks = [p for p in notebooks if any(p.stem.startswith(o) for o in only)]
    if not notebooks:
        raise SystemExit(f"error: no notebooks NN_*.ipynb in {folder}")
    return notebooks


def execute(notebook: Path, out: Path, results: Path, scale: str, show_cells: bool,
            cell_timeout: float | None = None) -> Outcome:
    """Run one notebook with papermill; return what happened, never raise for a failing cell."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    figures = out / "figures" / notebook.stem
    claims = claims_file(out, notebook)
    if claims.exists():
        claims.unlink()  # claims of an earlier run must not pass for this one's
    executed = out / "notebooks" / notebook.name
    executed.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    try:
        pm.execute_notebook(str(notebook), str(executed), cwd=str(notebook.parent),
                            parameters={"SCALE": scale, "RESULTS_DIR": str(results),
                                        "FIGURES_DIR": str(figures), "CLAIMS_FILE": str(claims)},
                            progress_bar=show_cells, log_output=False,
                            execution_timeout=cell_timeout)
    except PapermillExecutionError as err:
        detail = (f"the cell In [{err.exec_count}] {_first_line(executed, err.exec_count)!r} "
                  f"raised {err.ename}: {err.evalue} (executed notebook: {executed})")
        return Outcome(notebook.stem, "FAILED", time.perf_counter() - started, "-", detail)
    except Exception as err:  # kernel died, notebook unreadable, ...
        detail = f"{type(err).__name__}: {err}"
        return Outcome(notebook.stem, "FAILED", time.perf_counter() - started, "-", detail)
    n_figs = len(list(figures.glob("*.png"))) if figures.exists() else 0
    return Outcome(notebook.stem, "ok", time.perf_counter() - started,
                   f"{figures} ({n_figs} png)")


def claims_file(out: Path, notebook: Path) -> Path:
    """Where a notebook run by the CLI saves its claims (``lthlib.report.claims``)."""
    return out / "claims" / f"{notebook.stem}.json"


def print_claims(out: Path, notebooks: list[Path]) -> list:
    """Every notebook's claims as one table (notebook, claim, role, verdict, evidence)."""
    from lthlib.report.claims import load_claims

    items = []
    for nb in notebooks:
        path = claims_file(out, nb)
        if path.exists():
            items += load_claims(path)
    if not items:
        return items
    rows = [("notebook", "claim", "role", "verdict", "evidence")] + [
        (c.notebook, c.claim, c.role, c.verdict, c.evidence) for c in items]
    widths = [min(70, max(len(r[i]) for r in rows)) for i in range(4)]
    print("\nClaims")
    for j, row in enumerate(rows):
        cells = [cell if len(cell) <= w else cell[:w - 1] + "…" for cell, w in zip(row[:4], widths)]
        print("  ".join(cell.ljust(w) for cell, w in zip(cells, widths)) + "  " + row[4])
        if j == 0:
            print("  ".join("-" * w for w in widths) + "  --------")
    return items


def _first_line(executed: Path, exec_count: int) -> str:
    """The first line of the code cell with this execution count, so a failure is named by
    its code (papermill adds cells, so indices do not match the source notebook)."""
    import nbformat

    try:
        cells = nbformat.read(executed, as_version=4).cells
        source = next(c.source for c in cells
                      if c.cell_type == "code" and c.get("execution_count") == exec_count)
    except Exception:
        return "?"
    return source.strip().splitlines()[0][:80] if source.strip() else ""


def print_table(outcomes: list[Outcome]) -> None:
    rows = [("notebook", "status", "seconds", "figures")] + [
        (o.notebook, o.status, f"{o.seconds:.1f}", o.figures) for o in outcomes]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for j, row in enumerate(rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
        if j == 0:
            print("  ".join("-" * w for w in widths))


def profile_file(out: Path, notebook: Path) -> Path:
    """Where ``--profile`` has a notebook's kernel and workers count their work."""
    return out / "profile" / f"{notebook.stem}.jsonl"


def print_profile(out: Path, outcomes: list[Outcome], notebooks: list[Path]) -> None:
    """Per notebook: networks trained, training steps (iterations x networks), evaluations
    (points on training curves), evaluation passes and examples, and seconds in each."""
    from lthlib.core.profile import read

    header = ("notebook", "seconds", "networks", "steps", "evaluations", "eval passes",
              "examples evaluated", "s training", "s evaluating", "processes")
    rows, total = [header], None
    for o, nb in zip(outcomes, notebooks):
        p = read(profile_file(out, nb))
        total = p if total is None else {k: total[k] + p[k] for k in p}
        rows.append((o.notebook, f"{o.seconds:.1f}", f"{p['runs']:,}", f"{p['steps']:,}",
                     f"{p['evaluations']:,}", f"{p['passes']:,}", f"{p['examples']:,}",
                     f"{p['train_seconds']:.1f}", f"{p['eval_seconds']:.1f}", str(p["processes"])))
    if total is not None and len(notebooks) > 1:
        rows.append(("total", f"{sum(o.seconds for o in outcomes):.1f}", f"{total['runs']:,}",
                     f"{total['steps']:,}", f"{total['evaluations']:,}", f"{total['passes']:,}",
                     f"{total['examples']:,}", f"{total['train_seconds']:.1f}",
                     f"{total['eval_seconds']:.1f}", ""))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    print("\nProfile (seconds: the notebook's wall time; s training / s evaluating: summed over "
          "the kernel and its worker processes, so they can exceed it)")
    for j, row in enumerate(rows):
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if j == 0:
            print("  ".join("-" * w for w in widths))


def _execute_all(notebooks: list[Path], args: argparse.Namespace, out: Path, results: Path,
                 show_cells: bool, cell_timeout: float | None) -> list:
    """Each notebook in turn, with its progress lines (and its profile file with --profile)."""
    outcomes = []
    for i, nb in enumerate(notebooks, 1):
        print(f"[{i}/{len(notebooks)}] {nb.stem} ...", flush=True)
        if args.profile:
            counts = profile_file(out, nb)
            counts.parent.mkdir(parents=True, exist_ok=True)
            counts.unlink(missing_ok=True)  # counts of an earlier run must not add to this one's
            os.environ[PROFILE_ENV] = str(counts)  # the kernel and its workers inherit it
        try:
            outcome = execute(nb, out, results, args.scale, show_cells, cell_timeout)
        finally:
            if args.profile:
                os.environ.pop(PROFILE_ENV, None)
        print(f"[{i}/{len(notebooks)}] {nb.stem}: {outcome.status} in {outcome.seconds:.1f} s", flush=True)
        if outcome.detail:
            print(f"    {outcome.detail}", flush=True)
        outcomes.append(outcome)
    return outcomes


@contextmanager
def stopped_as_by_ctrl_c() -> Iterator[None]:
    """SIGTERM and SIGHUP stop the run the way Ctrl-C does: the running cell is interrupted
    and the kernel (with its worker processes) is shut down; then this process dies of the
    signal it got. Left to their default, they ended this process at once and its kernel
    went on training, orphaned, with no one to stop it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got: list[int] = []

    def interrupt(signum: int, frame: object) -> None:
        got.append(signum)
        raise KeyboardInterrupt

    previous = {s: signal.signal(s, interrupt) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    except KeyboardInterrupt:
        if not got:
            raise
        print(f"\nstopped by {signal.Signals(got[0]).name}: the kernel was shut down", file=sys.stderr, flush=True)
        signal.signal(got[0], signal.SIG_DFL)
        os.kill(os.getpid(), got[0])
        raise
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def run(args: argparse.Namespace) -> int:
    notebooks = find_notebooks(Path(args.notebooks), args.only)
    out, results = Path(args.out).resolve(), Path(args.results).resolve()
    # Executed notebooks should not fill with progress-bar widgets; the kernel inherits this.
    os.environ.setdefault("LTHLIB_PROGRESS", "0")
    os.environ.setdefault("LTHLIB_HEADLESS", "1")  # explorers are built, not rendered (lthlib.report.widgets)
    if args.threads is not None:
        os.environ["LTHLIB_THREADS"] = str(args.threads)  # the kernels inherit it
    show_cells = sys.stdout.isatty()
    cell_timeout = args.cell_timeout if args.cell_timeout is not None else DEFAULT_CELL_TIMEOUT[args.scale]
    if cell_timeout is not None and cell_timeout <= 0:
        cell_timeout = None
    print(f"Executing {len(notebooks)} notebook(s) at scale {args.scale!r} -> {out}", flush=True)
    with stopped_as_by_ctrl_c(), warm_kernels():  # kernels forked with ipykernel and torch imported (lthlib.core.warm_kernel)
        outcomes = _execute_all(notebooks, args, out, results, show_cells, cell_timeout)
    print()
    print_table(outcomes)
    if args.profile:
        print_profile(out, outcomes, notebooks)
    claims = print_claims(out, notebooks)
    failed = [o for o in outcomes if o.status != "ok"]
    for o in failed:
        print(f"\nFAILED: {o.notebook}: {o.detail}", file=sys.stderr)
    failed_claims = [c for c in claims if c.failed()]
    if args.check_claims:
        for c in failed_claims:
            print(f"\nCLAIM FAILED: {c.notebook}: {c.claim}: {c.verdict} ({c.evidence})", file=sys.stderr)
        missing = [nb.stem for nb in notebooks if not claims_file(out, nb).exists()]
        for stem in missing:
            print(f"\nNO CLAIMS: {stem} saved no claims (it failed, or states none)", file=sys.stderr)
        families = family_mismatches(claims, args.scale)
        for line in families:
            print(f"\nHEADLINE FAMILY: {line}", file=sys.stderr)
        if failed_claims or missing or families:
            return 1
    return 1 if failed else 0


def family_mismatches(claims: list, scale: str) -> list[str]:
    """Notebooks whose headline claims at ``scale`` do not number what
    ``settings.HEADLINE_FAMILIES`` declares (Holm's correction assumed that many)."""
    from lthlib.settings import HEADLINE_FAMILIES

    made: dict[str, int] = {}
    for c in claims:
        made[c.notebook] = made.get(c.notebook, 0) + (c.role == "headline")
    out = []
    for notebook, n in sorted(made.items()):
        declared = HEADLINE_FAMILIES.get(notebook, {}).get(scale)
        if declared is not None and declared != n:
            out.append(f"notebook {notebook} made {n} headline claims at scale {scale!r}; "
                       f"settings.HEADLINE_FAMILIES declares {declared}")
    return out


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["reproduce"]:  # its own parser (lthlib.apps.reproduce.main)
        from lthlib.apps.reproduce import main as reproduce_main

        return reproduce_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m lthlib",
                                     description="Lottery-ticket notebooks and their helper library.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="execute the notebooks in order with papermill")
    p_run.add_argument("--scale", choices=SCALES, default="quick",
                       help="smoke: seconds (CI); quick: minutes on a laptop CPU (default); "
                            "paper: the published settings (GPU advised)")
    p_run.add_argument("--only", nargs="+", metavar="NN",
                       help="run only notebooks whose name starts with these (e.g. 01 02)")
    p_run.add_argument("--out", default=str(REPO_ROOT / "build"),
                       help="folder for executed notebooks and figures (default: build/)")
    p_run.add_argument("--results", default=str(REPO_ROOT / "results"),
                       help="experiment store, reused by later runs (default: results/)")
    p_run.add_argument("--cell-timeout", type=float, default=None, metavar="SECONDS",
                       help="stop a cell that runs longer (default: 600 smoke, 1800 quick, "
                            "none for paper; 0 = no limit)")
    p_run.add_argument("--check-claims", action="store_true",
                       help="exit non-zero when a notebook's headline claim does not hold")
    p_run.add_argument("--threads", type=int, default=None, metavar="N",
                       help="torch threads per training process (default 1, see lthlib.core.threads; "
                            "another count gives other last bits, and is stored apart)")
    p_run.add_argument("--profile", action="store_true",
                       help="count per notebook the training steps, evaluation passes and "
                            "seconds in each, and print them as a table")
    p_run.add_argument("--notebooks", default=str(REPO_ROOT / "notebooks"),
                       help="folder of the notebooks (default: the repository's notebooks/)")
    from lthlib.apps.assignments import add_parser as add_assignments_parser

    add_assignments_parser(sub)
    sub.add_parser("reproduce", help="reproduce a paper's figure by id, with provenance "
                                     "(python -m lthlib reproduce --list)")
    args = parser.parse_args(argv)
    if args.command == "assignments":
        from lthlib.apps.assignments import cli as assignments_cli

        return assignments_cli(args)
    from lthlib.core.store import folder_problem

    for flag in ("out", "results"):  # checked before anything runs, not after hours of it
        problem = folder_problem(getattr(args, flag))
        if problem:
            parser.error(f"--{flag} {getattr(args, flag)}: {problem}")
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads {args.threads}: must be an integer >= 1")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
