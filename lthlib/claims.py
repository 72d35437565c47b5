"""Headline claims as checks over a run's results, and prose rendered from the results.

A notebook never types a number its run produced. It states its claims as checks:

    claims = Claims("03", SCALE, CLAIMS_FILE)
    claims.paired("rewinding to k=500 beats resetting to k=0 at 13% of weights",
                  better=acc_k500, worse=acc_k0)           # per-seed values, same seeds
    claims.show()                                           # a verdict table (Markdown)

and says what it saw with ``say("... {acc:.3f} ...", acc=...)``, which renders Markdown
from the computed values, so the text is true on every machine and at every scale.

Statistics: a claim compares two paired series (the same seeds, e.g. a ticket and its
control) by the per-seed difference; its mean and a two-sided 95% confidence interval
from Student's t over seeds. The verdict:

- ``holds``: the whole interval lies on the claimed side of the threshold;
- ``not shown``: the interval contains the threshold (the run cannot tell);
- ``contradicted``: the whole interval lies on the other side;
- ``not judged``: at smoke scale (the numbers mean nothing) or with fewer than 2 seeds.

Two roles: a ``headline`` claim is what the notebook teaches at this scale;
``python -m lthlib run --check-claims`` fails when one does not hold. A ``paper`` claim is
a published result tested at this scale: its verdict is shown and reported whatever it
is, and it does not fail the run (a scale that does not reproduce a paper is a finding,
not an error). A ``diagnostic`` claim is one the notebook expects to be null, or that
describes the run rather than teaches (e.g. "validation lags training"): shown, never
failing the run.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

ROLES = ("headline", "paper", "diagnostic")
VERDICTS = ("holds", "not shown", "contradicted", "not judged")
# two-sided 95% quantiles of Student's t, df = 1..30 (beyond: 1.96 is within 2%)
_T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
        2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
        2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def t95(df: int) -> float:
    """The two-sided 95% quantile of Student's t with ``df`` degrees of freedom."""
    if df < 1:
        raise ValueError(f"df={df}: need at least 2 paired values for an interval")
    return _T95[df - 1] if df <= len(_T95) else 1.96 + 2.4 / df


def mean_ci(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean and two-sided 95% t-interval of ``values`` (NaN interval for one value)."""
    v = np.asarray(values, dtype=float)
    if v.ndim != 1 or len(v) == 0:
        raise ValueError("need a non-empty sequence of numbers (one per seed)")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"values contain NaN or inf ({v.tolist()}): a run diverged; "
                         "fix the run before judging a claim on it")
    mean = float(v.mean())
    if len(v) < 2:
        return mean, math.nan, math.nan
    half = t95(len(v) - 1) * float(v.std(ddof=1)) / math.sqrt(len(v))
    return mean, mean - half, mean + half


@dataclass(frozen=True)
class Claim:
    """One checked claim and its evidence."""

    notebook: str
    claim: str
    role: str
    verdict: str
    mean: float
    ci_low: float
    ci_high: float
    n: int
    threshold: float
    unit: str = ""
    paper: str = ""  # what the cited paper reports, quoted as the paper's
    statistic: str = "paired difference"  # or "value": what ``mean`` is the mean of
    below: bool = False  # the claim is "below the threshold" (else "above")
    over: str = "seeds"  # what the n values are: seeds, or e.g. "seed pairs", "timing repeats"
    fragile: str = ""  # the verdict flips with the CPU's kernel set: how (FRAGILE_FILE), else ""

    @property
    def evidence(self) -> str:
        """The statistics in words: the mean (of paired differences or of values), its
        95% CI, the number of seeds and what the claim needs."""
        u = self.unit
        need = f"claim: {'below' if self.below else 'above'} {self.threshold:+.3g}{u}"
        if math.isnan(self.ci_low):
            return f"mean {self.statistic} {self.mean:+.3f}{u} ({self.n} {self._over()}: no interval; {need})"
        return (f"mean {self.statistic} {self.mean:+.3f}{u}, 95% CI [{self.ci_low:+.3f}, {self.ci_high:+.3f}]{u}"
                f" over {self.n} {self._over()} ({need})")

    def _over(self) -> str:
        return self.over[:-1] if self.n == 1 and self.over.endswith("s") else self.over

    @property
    def stated(self) -> str:
        """The verdict as prose states it: "holds", or "holds (fragile: ...)" when it flips
        with the CPU's kernel set."""
        return f"{self.verdict} (fragile: {self.fragile})" if self.fragile else self.verdict

    def failed(self) -> bool:
        """A headline claim that was judged and does not hold."""
        return self.role == "headline" and self.verdict in ("not shown", "contradicted")


def judge(differences: Sequence[float], threshold: float = 0.0, judged: bool = True) -> tuple[str, float, float, float]:
    """Verdict of "the mean of ``differences`` exceeds ``threshold``", with mean and CI."""
    mean, lo, hi = mean_ci(differences)
    if not judged or math.isnan(lo):
        return "not judged", mean, lo, hi
    if lo > threshold:
        return "holds", mean, lo, hi
    if hi < threshold:
        return "contradicted", mean, lo, hi
    return "not shown", mean, lo, hi


class Claims:
    """The claims of one notebook: checked, shown as a verdict table, saved for the CLI."""

    def __init__(self, notebook: str, scale: str, path: str | Path | None = None):
        self.notebook, self.scale = str(notebook), scale
        self.path = Path(path) if path else None
        self.items: list[Claim] = []

    def paired(self, claim: str, better: Sequence[float], worse: Sequence[float], *,
               margin: float = 0.0, role: str = "headline", paper: str = "", unit: str = "",
               over: str = "seeds") -> Claim:
        """"``better`` exceeds ``worse`` by more than ``margin``", seed by seed (the two
        sequences list the same seeds in the same order). A negative margin states
        "``better`` is not worse than ``worse`` by more than |margin|" (matching)."""
        b, w = np.asarray(better, dtype=float), np.asarray(worse, dtype=float)
        if b.shape != w.shape or b.ndim != 1:
            raise ValueError(f"paired claim {claim!r}: both sides need one value per seed, "
                             f"same seeds (got shapes {b.shape} and {w.shape})")
        return self._add(claim, b - w, margin, False, role, paper, unit, "paired difference", over)

    def check(self, claim: str, values: Sequence[float], *, threshold: float = 0.0, below: bool = False,
              role: str = "headline", paper: str = "", unit: str = "", over: str = "seeds",
              statistic: str = "value") -> Claim:
        """"The mean of ``values`` (one per seed) is above ``threshold``" (``below=True``:
        below it), e.g. "the barrier is below 0.02". ``statistic`` names what the values are
        in the evidence (e.g. "ln speed-up")."""
        return self._add(claim, values, threshold, below, role, paper, unit, statistic, over)

    def _add(self, claim: str, values: Sequence[float], threshold: float, below: bool, role: str,
             paper: str, unit: str, statistic: str, over: str = "seeds") -> Claim:
        if role not in ROLES:
            raise ValueError(f"role={role!r}: choose one of {list(ROLES)}")
        v = np.asarray(values, dtype=float)
        sign = -1.0 if below else 1.0
        verdict, mean, lo, hi = judge(sign * v, sign * threshold, judged=self.scale != "smoke")
        if below:
            mean, lo, hi = -mean, -hi, -lo
        item = Claim(self.notebook, claim, role, verdict, mean, lo, hi, len(v), float(threshold), unit,
                     paper, statistic, below, over, fragile_note(self.notebook, claim, self.scale))
        self.items = [c for c in self.items if c.claim != claim] + [item]
        self.save()
        return item

    def save(self) -> None:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps([asdict(c) for c in self.items], indent=1))
            tmp.replace(self.path)

    def markdown(self) -> str:
        return claims_markdown(self.items, self.scale)

    def show(self) -> Any:
        """Display the verdict table (in a notebook; returns the Markdown object)."""
        return say(self.markdown())


# Verdicts measured to flip with the CPU's kernel set (benchmarks/claims_kernels.py --record:
# the same notebook on an empty store under the native kernels and under
# ATEN_CPU_CAPABILITY=default). Such a verdict hangs on the last bits of the arithmetic, not
# on the experiment: tables mark it fragile and ``verdict_word`` will not word it as a finding.
FRAGILE_FILE = Path(__file__).with_name("fragile_claims.json")


def _fragile() -> dict[str, Any]:
    try:
        return json.loads(FRAGILE_FILE.read_text())
    except (OSError, ValueError):
        return {}


def fragile_note(notebook: str, claim: str, scale: str) -> str:
    """How the verdict of ``claim`` changed with the kernel set, where that was measured at
    this scale ("holds under AVX512 kernels, not shown under DEFAULT"); "" otherwise."""
    for entry in _fragile().get("claims", []):
        if entry["notebook"] == notebook and entry["claim"] == claim and entry["scale"] == scale:
            return ", ".join(f"{v} under {k} kernels" for k, v in entry["verdicts"].items())
    return ""


def record_fragile(notebooks: Sequence[str], scale: str,
                   verdicts: dict[str, dict[tuple[str, str], str]]) -> Path:
    """Record in ``FRAGILE_FILE`` the claims of ``notebooks`` at ``scale`` whose verdicts
    differ between kernel sets (``{kernel set: {(notebook, claim): verdict}}``), replacing
    what was recorded for those notebooks and scale before."""
    data = _fragile() or {"about": "verdicts that flip with the CPU kernel set "
                                   "(benchmarks/claims_kernels.py --record)", "claims": []}
    data["claims"] = [c for c in data["claims"] if not (c["notebook"] in notebooks and c["scale"] == scale)]
    kernels = list(verdicts)
    for key in verdicts[kernels[0]]:
        seen = {k: verdicts[k].get(key, "missing") for k in kernels}
        if len(set(seen.values())) > 1:
            data["claims"].append({"notebook": key[0], "claim": key[1], "scale": scale, "verdicts": seen})
    FRAGILE_FILE.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    return FRAGILE_FILE


def claims_markdown(items: Sequence[Claim], scale: str | None = None) -> str:
    """A Markdown table: claim, role, verdict, evidence (and the paper's number if given)."""
    mark = {"holds": "✅ holds", "not shown": "❌ not shown", "contradicted": "❌ contradicted",
            "not judged": "– not judged"}
    rows = ["| claim | role | verdict | evidence |", "|---|---|---|---|"]
    for c in items:
        role = {"headline": "headline", "diagnostic": "diagnostic"}.get(c.role, "the paper's claim, at this scale")
        paper = f"<br>*{c.paper}*" if c.paper else ""
        fragile = f"<br>⚠️ *fragile: {c.fragile}*" if c.fragile else ""
        rows.append(f"| {c.claim}{paper} | {role} | {mark[c.verdict]}{fragile} | {c.evidence} |")
    note = ""
    if any(c.fragile for c in items):
        note += ("\n\n*⚠️ fragile: this verdict changed when the same notebook ran under another CPU "
                 "kernel set (benchmarks/claims_kernels.py): it hangs on the last bits of the arithmetic, so "
                 "it is not a finding of this run.*")
    if scale == "smoke":
        note = "\n\n*Smoke scale: the claims are computed but not judged (the numbers mean nothing).*"
    return "\n".join(rows) + note


def load_claims(path: str | Path) -> list[Claim]:
    """Claims saved by a notebook run (plain JSON)."""
    return [Claim(**d) for d in json.loads(Path(path).read_text())]


def say(text: str, **values: Any) -> Any:
    """Render ``text`` (Markdown with ``{name:format}`` fields) from computed ``values`` and
    display it: the way a notebook states what its run measured."""
    rendered = text.format(**values) if values else text
    try:
        from IPython.display import Markdown, display

        display(Markdown(rendered))
        return None
    except ImportError:  # pragma: no cover - IPython is a dependency of the notebooks
        print(rendered)
        return None


def spread(values: Sequence[float], fmt: str = ".3f") -> str:
    """"mean (min-max)" of per-seed values, for prose and tables."""
    v = np.asarray(values, dtype=float)
    return f"{v.mean():{fmt}} ({v.min():{fmt}}-{v.max():{fmt}})"


def verdict_word(claim: Claim, yes: str = "yes", no: str = "no", unclear: str = "not clearly") -> str:
    """A word for prose that follows the verdict: ``yes`` if it holds, ``no`` if
    contradicted, ``unclear`` otherwise (not shown, not judged, or fragile: a verdict that
    flips with the CPU's kernel set is no finding)."""
    if claim.fragile:
        return unclear
    return {"holds": yes, "contradicted": no}.get(claim.verdict, unclear)
