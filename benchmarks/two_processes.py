"""Two lthlib processes at once on one machine: do they slow each other down, and do they
compute a shared store's results twice?

Runs one small IMP experiment (i) alone, (ii) twice side by side with separate stores, and
(iii) twice side by side on one shared store, each process a fresh ``python`` that imports
lthlib as a user's script would (no thread settings in the environment), and prints the
wall time of each and how many training runs each process did.

    python benchmarks/two_processes.py            # the lthlib on PYTHONPATH / installed
    PYTHONPATH=/path/to/old/checkout python benchmarks/two_processes.py   # another version
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCRIPT = """
import json, sys, time
import lthlib.engine.training as training
import lthlib.experiments.imp as imp
from lthlib.core.store import Store
from lthlib.data.datasets import load_dataset
from lthlib.settings import TrainSettings

calls = []
real = training.train
def counted(*a, **k):
    calls.append(1)
    return real(*a, **k)
training.train = imp.train = counted
settings = TrainSettings(model="mlp_mnist1d", iterations=ITERATIONS, eval_every=100)
data = load_dataset("mnist1d")
started = time.perf_counter()
imp.run_imp(imp.IMPSettings(settings, rounds=2, controls=("reinit",)), data,
            store=Store(sys.argv[1]), progress=False)
print(json.dumps({"seconds": time.perf_counter() - started, "trained": len(calls)}))
"""


def launch(script: Path, store: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "LTHLIB_THREADS", "LTHLIB_WORKERS")}
    return subprocess.Popen([sys.executable, str(script), str(store)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def finish(procs: list[subprocess.Popen]) -> list[dict]:
    out = []
    for p in procs:
        stdout, stderr = p.communicate()
        if p.returncode:
            raise SystemExit(stderr[-3000:])
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=1500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        script = tmp / "imp_job.py"
        script.write_text(SCRIPT.replace("ITERATIONS", str(args.iterations)))
        rows = []
        t = time.perf_counter()
        (alone,) = finish([launch(script, tmp / "alone")])
        rows.append(("alone", f"{alone['seconds']:.1f}", str(alone["trained"])))
        pair = finish([launch(script, tmp / "a"), launch(script, tmp / "b")])
        rows.append(("2 side by side, separate stores", " / ".join(f"{r['seconds']:.1f}" for r in pair),
                     " / ".join(str(r["trained"]) for r in pair)))
        shared = finish([launch(script, tmp / "shared"), launch(script, tmp / "shared")])
        rows.append(("2 side by side, one shared store", " / ".join(f"{r['seconds']:.1f}" for r in shared),
                     " / ".join(str(r["trained"]) for r in shared)))
    import lthlib

    print(f"lthlib from {Path(lthlib.__file__).parent}, {os.cpu_count()} cores, IMP 2 rounds + reinit, "
          f"{args.iterations} iterations per run; total {time.perf_counter() - t:.0f} s")
    print(f"| {'case':34} | seconds per process | training runs per process |")
    print(f"|{'-' * 36}|---------------------|---------------------------|")
    for case, secs, trained in rows:
        print(f"| {case:34} | {secs:19} | {trained:25} |")


if __name__ == "__main__":
    main()
