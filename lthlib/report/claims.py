"""Headline claims as checks over a run's results, and prose rendered from the results.

A notebook never types a number its run produced. It states its claims as checks:

    claims = Claims("03", SCALE, CLAIMS_FILE)
    claims.paired("rewinding to k=500 beats resetting to k=0 at 13% of weights",
                  better=acc_k500, worse=acc_k0)           # per-seed values, same seeds
    claims.show()                                           # a verdict table (Markdown)

and says what it saw with ``say("... {acc:.3f} ...", acc=...)``, which renders Markdown
from the computed values, so the text is true on every machine and at every scale.

Statistics: every claim is one-sided: "the mean of the per-seed values (paired
differences, e.g. ticket minus control, or values) lies above a threshold" (or below it).
Its verdict comes from an **exact sign-flip permutation test** of the per-seed values
minus the threshold (all 2^n sign patterns up to ``EXACT_UP_TO`` seeds; beyond, 2^16
patterns drawn from a fixed stream): under "no effect" each seed's difference is as
likely to lie on either side, so no distribution is assumed. Beside it the table reports
how many seeds lie on the claimed side and the one-sided 95% Student-t bound of the mean.
An effect every seed shows has p = 2^-n: 0.0039 with 8 seeds, which is why headline
claims need 8 (3 seeds can never go below 0.125). The verdict:

- ``holds``: p on the claimed side is at most the claim's level;
- ``contradicted``: p on the other side is at most that level;
- ``not shown``: neither (the run cannot tell);
- ``not judged``: at smoke scale (the numbers mean nothing) or with fewer than 2 seeds;
- ``pending``: a headline claim waiting for the rest of its family (below).

A notebook's headline claims are one family: their levels follow **Holm's step-down**
procedure at family-wise error ``ALPHA`` over the number of headline claims the notebook
declares before its run (``settings.HEADLINE_FAMILIES``). Claims are judged in the order they are
made, each at once (so prose can follow its verdict), with the claims not yet made at p = 1:
a claim that holds then holds under Holm over the whole family too (lowering other p-values
never un-rejects one). A claim that does not hold then, but would if the claims still to come
had small p-values, is ``pending``: it is decided by Holm over the whole family when the
family's last claim is made, and the verdict table at the end shows that decision.
Paper and diagnostic claims are tested each at ``ALPHA``, uncorrected, and say so.

Two roles: a ``headline`` claim is what the notebook teaches at this scale;
``python -m lthlib run --check-claims`` fails when one does not hold. A ``paper`` claim is
a published result tested at this scale: its verdict is shown and reported whatever it
is, and it does not fail the run (a scale that does not reproduce a paper is a finding,
not an error). A ``diagnostic`` claim is one the notebook expects to be null, or that
describes the run rather than teaches (e.g. "validation lags training"): shown, never
failing the run.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from lthlib.settings import HEADLINE_FAMILIES

ROLES = ("headline", "paper", "diagnostic")
VERDICTS = ("holds", "not shown", "contradicted", "not judged")
ALPHA = 0.05  # family-wise error of a notebook's headline claims; the level of each other claim
EXACT_UP_TO = 16  # seeds: the sign-flip test enumerates all 2^n patterns up to here
TEST = "exact sign-flip permutation test (one-sided)"

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


def t95_one_sided(df: int) -> float:
    """The one-sided 95% quantile of Student's t with ``df`` degrees of freedom."""
    from scipy.stats import t

    if df < 1:
        raise ValueError(f"df={df}: need at least 2 values for a bound")
    return float(t.ppf(0.95, df))


def sign_flip_p(values: Sequence[float], alternative: str = "greater", key: str = "") -> float:
    """One-sided p of "the values' mean is above 0" (``"greater"``) or below it (``"less"``)
    by flipping the values' signs: exact (every pattern) up to ``EXACT_UP_TO`` values,
    else 2^16 patterns from a generator seeded by ``key`` (its own stream)."""
    from scipy.stats import permutation_test

    v = np.asarray(values, dtype=float)
    exact = len(v) <= EXACT_UP_TO
    rng = None if exact else np.random.default_rng(int(hashlib.sha256(f"claims/sign_flip/{key}".encode())
                                                       .hexdigest()[:16], 16))
    res = permutation_test((v,), lambda x, axis: np.mean(x, axis=axis), permutation_type="samples",
                           alternative=alternative, n_resamples=np.inf if exact else 2 ** 16,
                           vectorized=True, rng=rng)
    return float(res.pvalue)


def holm_step_levels(p_values: Sequence[float], family: int, alpha: float = ALPHA) -> list[float]:
    """The level Holm's step-down compares each of ``p_values`` with, in a family of
    ``family`` hypotheses (those not given count as p = 1, so come last): ``alpha / (family -
    rank)`` up to the first p that exceeds its level, and that level for every p after it
    (none of them is rejected). Equal p-values take the earliest rank."""
    if family < len(p_values):
        raise ValueError(f"{len(p_values)} p-values in a family of {family}")
    ps = [1.0 if math.isnan(p) else p for p in p_values]
    levels = [0.0] * len(ps)
    stopped: float | None = None
    for rank, i in enumerate(sorted(range(len(ps)), key=lambda j: ps[j])):
        if stopped is None:
            levels[i] = alpha / (family - rank)
            if ps[i] > levels[i]:
                stopped = levels[i]
        else:
            levels[i] = stopped
    return levels


def holm_levels(p_values: Sequence[float], family: int, alpha: float = ALPHA) -> list[bool]:
    """Holm's step-down decisions for ``p_values`` in a family of ``family`` hypotheses
    (those not given count as p = 1): True where the hypothesis is rejected."""
    if family < len(p_values):
        raise ValueError(f"{len(p_values)} p-values in a family of {family}")
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    rejected = [False] * len(p_values)
    for rank, i in enumerate(order):
        if p_values[i] > alpha / (family - rank):
            break
        rejected[i] = True
    return rejected


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
    # the test behind the verdict (see the module's docstring)
    p: float = math.nan  # one-sided p on the claimed side
    p_other: float = math.nan  # one-sided p on the other side
    level: float = ALPHA  # the level p is compared with (Holm's, for a headline claim)
    on_side: int = 0  # values strictly on the claimed side of the threshold
    bound: float = math.nan  # one-sided 95% t bound of the mean (lower for "above", upper for "below")
    test: str = TEST
    correction: str = "none"  # "Holm over N headline claims" for headline claims
    one_sided: bool = True

    @property
    def evidence(self) -> str:
        """The statistics in words: the mean (of paired differences or of values), the
        seeds on the claimed side, the exact test's p against its level, the one-sided t
        bound, and what the claim needs."""
        u = self.unit
        side = "below" if self.below else "above"
        need = f"claim: {side} {_num(self.threshold, u)}{u}"
        if math.isnan(self.p):
            return f"mean {self.statistic} {_num(self.mean, u)}{u} ({self.n} {self._over()}: not tested; {need})"
        bound = "" if math.isnan(self.bound) else \
            f", one-sided 95% t bound {'<' if self.below else '>'} {_num(self.bound, u)}{u}"
        return (f"mean {self.statistic} {_num(self.mean, u)}{u}{bound}; {self.on_side} of {self.n} "
                f"{self._over()} {side}; p = {self.p:.2g} (level {self.level:.2g}) ({need})")

    def _over(self) -> str:
        return self.over[:-1] if self.n == 1 and self.over.endswith("s") else self.over

    @property
    def stated(self) -> str:
        """The verdict as prose states it: "holds", or "holds (fragile: ...)" when it flips
        with the CPU's kernel set."""
        if self.verdict == "pending":
            return ("pending: decided together with the other headline claims (Holm's correction for testing "
                    "several claims at once), in the table at the end of the notebook")
        return f"{self.verdict} (fragile: {self.fragile})" if self.fragile else self.verdict

    def failed(self) -> bool:
        """A headline claim that was judged and does not hold."""
        return self.role == "headline" and self.verdict in ("not shown", "contradicted", "pending")


def _num(x: float, unit: str) -> str:
    """A signed number as evidence prints it: whole iterations for "it", else 3 decimals."""
    return f"{x:+.0f}" if unit.strip() == "it" else f"{x:+.3f}"


@dataclass(frozen=True)
class Tested:
    """"The mean of values exceeds threshold", tested: what a Claim records of it."""

    mean: float
    ci_low: float
    ci_high: float
    p: float
    p_other: float
    on_side: int
    bound: float


def test_above(values: Sequence[float], threshold: float = 0.0, key: str = "") -> Tested:
    """The sign-flip test of "the mean of ``values`` exceeds ``threshold``" both ways, the
    seeds above it, the one-sided 95% t lower bound, and the two-sided 95% t-interval."""
    mean, lo, hi = mean_ci(values)
    v = np.asarray(values, dtype=float) - threshold
    if len(v) < 2:
        return Tested(mean, lo, hi, math.nan, math.nan, int((v > 0).sum()), math.nan)
    sd = float(v.std(ddof=1))
    bound = mean - t95_one_sided(len(v) - 1) * sd / math.sqrt(len(v))
    return Tested(mean, lo, hi, sign_flip_p(v, "greater", key), sign_flip_p(v, "less", key),
                  int((v > 0).sum()), bound)


def judge(differences: Sequence[float], threshold: float = 0.0, judged: bool = True,
          level: float = ALPHA) -> tuple[str, float, float, float]:
    """Verdict of "the mean of ``differences`` exceeds ``threshold``" by the one-sided
    sign-flip test at ``level``, with the mean and the two-sided 95% t-interval."""
    t = test_above(differences, threshold)
    return _verdict(t, judged, level), t.mean, t.ci_low, t.ci_high


def _verdict(t: Tested, judged: bool, level: float) -> str:
    if not judged or math.isnan(t.p):
        return "not judged"
    if t.p <= level:
        return "holds"
    if t.p_other <= level:
        return "contradicted"
    return "not shown"


class Claims:
    """The claims of one notebook: checked, shown as a verdict table, saved for the CLI."""

    def __init__(self, notebook: str, scale: str, path: str | Path | None = None,
                 headlines: int | None = None):
        """``headlines``: how many headline claims the notebook makes (Holm's family);
        default ``settings.HEADLINE_FAMILIES[notebook][scale]``, else each headline claim
        alone at ALPHA (and the table says the family was not declared)."""
        self.notebook, self.scale = str(notebook), scale
        self.path = Path(path) if path else None
        self.items: list[Claim] = []
        self.family = headlines if headlines is not None else HEADLINE_FAMILIES.get(self.notebook, {}).get(scale)
        if self.family is not None and (not isinstance(self.family, int) or self.family < 1):
            raise ValueError(f"headlines={self.family!r}: the number of headline claims, an integer >= 1")

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
        t = test_above(sign * v, sign * threshold, key=f"{self.notebook}/{claim}")
        mean, lo, hi, bound = t.mean, t.ci_low, t.ci_high, t.bound
        if below:
            mean, lo, hi, bound = -mean, -hi, -lo, -bound
        others = [c for c in self.items if c.claim != claim]
        level, correction = ALPHA, "none"
        judged = self.scale != "smoke"
        verdict = None
        if role == "headline":
            level, correction = self._holm_level(others, t.p, claim)
            verdict = _verdict(t, judged, level)
            if verdict == "not shown" and self._could_pass(others, t):
                verdict = "pending"
        item = Claim(self.notebook, claim, role, verdict or _verdict(t, judged, level), mean, lo, hi, len(v),
                     float(threshold), unit, paper, statistic, below, over,
                     fragile_note(self.notebook, claim, self.scale), t.p, t.p_other, level, t.on_side, bound,
                     TEST, correction, True)
        self.items = others + [item]
        self._decide_pending()
        self.save()
        return next(c for c in self.items if c.claim == claim)

    def _could_pass(self, others: Sequence[Claim], t: Tested) -> bool:
        """Whether Holm over the whole family could still reject this claim (either way),
        the claims still to come having p = 0: the most lenient level it can get."""
        if self.family is None:
            return False
        earlier = [c.p for c in others if c.role == "headline"]
        to_come = self.family - len(earlier) - 1
        best = holm_step_levels(earlier + [t.p] + [0.0] * to_come, self.family)[len(earlier)]
        return t.p <= best or t.p_other <= best

    def _decide_pending(self) -> None:
        """Once the family's last headline claim is made: decide each pending claim by Holm
        over the whole family (claims decided when made keep their verdict, which Holm over
        the whole family confirms). The decision is written into the pending ``Claim``
        object itself, so that a summary rendered after it (from the object the notebook
        kept) reads the decision, while what was rendered before said "pending"."""
        headline = [i for i, c in enumerate(self.items) if c.role == "headline"]
        if self.family is None or len(headline) < self.family:
            return
        levels = holm_step_levels([self.items[i].p for i in headline], self.family)
        for i, level in zip(headline, levels):
            c = self.items[i]
            if c.verdict == "pending":
                verdict = "holds" if c.p <= level else "contradicted" if c.p_other <= level else "not shown"
                object.__setattr__(c, "verdict", verdict)
                object.__setattr__(c, "level", level)

    def _holm_level(self, others: Sequence[Claim], p: float, claim: str) -> tuple[float, str]:
        """The level Holm's step-down gives a new headline claim of p-value ``p``, the
        earlier headline claims' p-values known and the rest of the family at p = 1: its
        own threshold if every smaller p is rejected too, else 0 (not rejected)."""
        earlier = [c.p for c in others if c.role == "headline"]
        if self.family is None:
            return ALPHA, "none (no headline family declared)"
        if len(earlier) + 1 > self.family:
            raise ValueError(f"notebook {self.notebook}: headline claim {claim!r} is number {len(earlier) + 1}, "
                             f"but the notebook declared {self.family} (settings.HEADLINE_FAMILIES); a larger family must "
                             "be declared before the run, not found after it")
        ps = [x if not math.isnan(x) else 1.0 for x in earlier] + [1.0 if math.isnan(p) else p]
        rank = sorted(ps).index(ps[-1])  # ties: the first position, the most lenient of equal p
        rejected = holm_levels(ps, self.family)
        # not rejected: the step where Holm stopped (a smaller or equal p failed there, so
        # this p exceeds that level too)
        step = rank if rejected[-1] else min(rank, sum(rejected))
        return ALPHA / (self.family - step), f"Holm over {self.family} headline claims"

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
            "not judged": "– not judged", "pending": "⏳ pending (decided when the family is complete)"}
    rows = ["| claim | role | verdict | evidence |", "|---|---|---|---|"]
    for c in items:
        role = {"headline": "headline", "diagnostic": "diagnostic"}.get(c.role, "the paper's claim, at this scale")
        paper = f"<br>*{c.paper}*" if c.paper else ""
        fragile = f"<br>⚠️ *fragile: {c.fragile}*" if c.fragile else ""
        rows.append(f"| {c.claim}{paper} | {role} | {mark[c.verdict]}{fragile} | {c.evidence} |")
    note = _tests_note(items)
    if any(c.fragile for c in items):
        note += ("\n\n*⚠️ fragile: this verdict changed when the same notebook ran under another CPU "
                 "kernel set (benchmarks/claims_kernels.py): it hangs on the last bits of the arithmetic, so "
                 "it is not a finding of this run.*")
    if scale == "smoke":
        note = "\n\n*Smoke scale: the claims are computed but not judged (the numbers mean nothing).*"
    return "\n".join(rows) + note


def _tests_note(items: Sequence[Claim]) -> str:
    """What the verdicts of ``items`` rest on, said under their table."""
    if not items:
        return ""
    headline = {c.correction for c in items if c.role == "headline"}
    fam = "; ".join(sorted(headline)) if headline else ""
    text = ("\n\n*Each verdict: an exact one-sided sign-flip test of the per-seed values against the "
            "claim's threshold (p on the claimed side at most the level: holds; on the other side: "
            "contradicted; else not shown); the t bound is one-sided 95%, for scale. ")
    if fam:
        text += (f"Headline claims: family-wise error {ALPHA:g}, {fam}, judged in the order made; one that "
                 "could still pass once the rest of its family is known is pending until then. ")
    if any(c.role != "headline" for c in items):
        text += f"The paper's and diagnostic claims: each at {ALPHA:g}, not corrected.*"
    else:
        text = text.rstrip() + "*"
    return text


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


def spread_table(percents: Sequence[float], series: Mapping[str, np.ndarray], first: str = "network") -> str:
    """Markdown: a row per series (``name -> seeds x densities``), its ``spread`` per density,
    under a header of the densities in percent."""
    rows = [f"| {first} | " + " | ".join(f"{p:.1f}%" for p in percents) + " |", "|---|" + "---|" * len(percents)]
    rows += [f"| {name} | " + " | ".join(spread(ys[:, j]) for j in range(len(percents))) + " |"
             for name, ys in series.items()]
    return "\n".join(rows)


def verdict_word(claim: Claim, yes: str = "yes", no: str = "no", unclear: str = "not clearly",
                 pending: str = "(not yet decided: see the verdict table at the end)") -> str:
    """A word for prose that follows the verdict: ``yes`` if it holds, ``no`` if
    contradicted, ``pending`` while Holm waits for the rest of the claim's family, ``unclear``
    otherwise (not shown, not judged, or fragile: a verdict that flips with the CPU's kernel
    set is no finding)."""
    if claim.verdict == "pending":
        return pending
    if claim.fragile:
        return unclear
    return {"holds": yes, "contradicted": no}.get(claim.verdict, unclear)


def direction_word(values: Sequence[float], up: str, down: str, unclear: str, threshold: float = 0.0,
                   judged: bool = True) -> str:
    """A word for prose that follows the exact test of ``values`` (one per seed, no claim
    made) against ``threshold`` at ``ALPHA``: ``up`` above it, ``down`` below it, else ``unclear``."""
    return {"holds": up, "contradicted": down}.get(judge(values, threshold, judged=judged)[0], unclear)


def bold_verdict(claim: Claim) -> str:
    """The verdict as prose states it (fragile said), in bold."""
    return f"**{claim.stated}**"


def verdict_lines(items: Sequence[Claim]) -> str:
    """A Markdown list, a line a claim: the claim, its verdict in bold and its evidence (a
    notebook's closing summary)."""
    return "\n".join(f"- {c.claim}: {bold_verdict(c)} ({c.evidence})." for c in items)
