"""Do the notebooks' verdicts hang on the last bits of the CPU's kernels?

Runs the chosen notebooks twice at a scale, each time on an empty results store: once with
the kernels torch picks for this CPU (native) and once under ``ATEN_CPU_CAPABILITY=default``
(the portable kernels, which round differently, as another CPU would). Prints both claims
tables side by side and lists the verdicts that changed. A verdict that flips with the
kernel set is fragile: it is not a finding of the notebook.

    python benchmarks/claims_kernels.py --only 02,05 [--scale quick] [--out DIR] [--other default] [--record]

``--record`` writes the verdicts that changed to ``lthlib/report/fragile_claims.json`` (merged with
those of other notebooks recorded before), from which every notebook's claims table marks
them *fragile* (``lthlib.report.claims``); ``--reuse`` reads the two runs already in ``--out``.

The two runs go one after the other (each uses the cores as ``python -m lthlib run`` does).
``--out DIR`` keeps both runs' executed notebooks, claims and stores (default: a folder under
the system's temporary directory, printed).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from lthlib.report.claims import load_claims

REPO = Path(__file__).resolve().parents[1]


def run(kernels: str | None, only: str, scale: str, out: Path) -> Path:
    """``python -m lthlib run`` on an empty store under ``kernels`` (None: native); its out folder."""
    folder = out / (kernels or "native")
    env = dict(os.environ)
    env.pop("ATEN_CPU_CAPABILITY", None)
    if kernels:
        env["ATEN_CPU_CAPABILITY"] = kernels
    cmd = [sys.executable, "-m", "lthlib", "run", "--scale", scale, "--only", *only.replace(",", " ").split(),
           "--out", str(folder), "--results", str(folder / "results")]
    print(f"$ {'ATEN_CPU_CAPABILITY=' + kernels + ' ' if kernels else ''}{' '.join(cmd[1:])}", flush=True)
    subprocess.run(cmd, cwd=REPO, env=env, check=False)
    return folder


def claims_of(folder: Path) -> dict[tuple[str, str], object]:
    return {(c.notebook, c.claim): c for path in sorted((folder / "claims").glob("*.json"))
            for c in load_claims(path)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="02,05", help="notebooks, e.g. 02,05 (default)")
    parser.add_argument("--scale", default="quick", choices=["smoke", "quick", "paper"])
    parser.add_argument("--other", default="default", help="the second kernel set (default: default)")
    parser.add_argument("--out", default=None, help="keep both runs here")
    parser.add_argument("--record", action="store_true", help="write the flips to lthlib/report/fragile_claims.json")
    parser.add_argument("--reuse", action="store_true", help="read the runs already in --out")
    args = parser.parse_args(argv)
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="claims_kernels_"))
    import torch

    print(f"native kernels here: {torch.backends.cpu.get_cpu_capability()}; other: {args.other}; out: {out}")
    here = torch.backends.cpu.get_cpu_capability()
    if args.reuse:
        native, other = claims_of(out / "native"), claims_of(out / args.other)
    else:
        native, other = claims_of(run(None, args.only, args.scale, out)), claims_of(run(args.other, args.only, args.scale, out))
    keys = list(native) + [k for k in other if k not in native]
    print(f"\n| notebook | claim | role | native | {args.other} | native mean [CI] | {args.other} mean [CI] |")
    print("|---|---|---|---|---|---|---|")
    flips = []
    for key in keys:
        a, b = native.get(key), other.get(key)
        va, vb = (a.verdict if a else "missing"), (b.verdict if b else "missing")
        if va != vb:
            flips.append((key, va, vb, (a or b).role))
        ev = lambda c: f"{c.mean:+.3f} [{c.ci_low:+.3f}, {c.ci_high:+.3f}] n={c.n}" if c else ""  # noqa: E731
        print(f"| {key[0]} | {key[1][:90]} | {(a or b).role} | {va} | {vb} | {ev(a)} | {ev(b)} |")
    print(f"\n{len(flips)} of {len(keys)} verdicts changed with the kernel set"
          + (f" ({sum(f[3] == 'headline' for f in flips)} headline):" if flips else "."))
    for (notebook, claim), va, vb, role in flips:
        print(f"- [{role}] {notebook}: {claim}: {va} -> {vb}")
    if args.record:
        from lthlib.report.claims import record_fragile

        notebooks = sorted({key[0] for key in keys})
        path = record_fragile(notebooks, args.scale, {here: {k: c.verdict for k, c in native.items()},
                                                      args.other.upper(): {k: c.verdict for k, c in other.items()}})
        print(f"recorded {len(flips)} fragile verdict(s) of notebook(s) {', '.join(notebooks)} in {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
