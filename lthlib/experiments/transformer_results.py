"""Notebook 10's reads of its runs (``lthlib.experiments.transformer_study``'s experiment) and the words
that follow its verdicts, so that the notebook only renders them: ``dense_reach`` /
``dense_reference`` (section 2: grokking and the dense reference), ``ticket_study`` (section
3: the ticket, its controls, speed, rewinding), ``one_shot_study`` (section 4) and
``feature_ratios``; the reading helpers (``steps_to``, ``steps_table``, ``ceiling_gap``,
``one_sd_reading``, ``layer_words``).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from lthlib.engine.training import Run
from lthlib.experiments.imp import IMPResult, kind_label
from lthlib.experiments.transformer_study import SCORE_LABELS, OneShot, OneShotResult, TransformerExperiment
from lthlib.methods.pruning import input_norms
from lthlib.models.networks import prunable_parameters
from lthlib.report.claims import Claim, Claims, spread, verdict_word
from lthlib.settings import TrainSettings

# ----------------------------------------------------------------------------- reading runs
def steps_to(run: Run | None, threshold: float, metric: str = "val_acc") -> int | None:
    """The first evaluated iteration at which ``metric`` >= ``threshold`` (None: never, or
    no run). Iterations count from the dense run's start, so a ticket rewound to k has had
    k dense iterations before its own."""
    if run is None:
        return None
    return next((it for it, v in zip(run.iterations, run.curve(metric)) if v >= threshold), None)


def steps_table(results: Sequence[IMPResult], kind: str, threshold: float, end: int) -> tuple[np.ndarray, np.ndarray]:
    """``(steps, never)``: seeds x rounds (round 0: dense) of the iterations to reach
    ``threshold`` validation accuracy, a run that never does counted as ``end`` (so its
    real time is longer), and whether it never did."""
    raw = [[steps_to(run, threshold) for run in res.runs(kind)] for res in results]
    return (np.array([[end if v is None else v for v in row] for row in raw], dtype=float),
            np.array([[v is None for v in row] for row in raw]))


def ceiling_gap(*series: Sequence[float], within: float = 0.02) -> float | None:
    """How far the lowest of the series' means (accuracies, one per seed) lies below 1.0,
    when every mean is within ``within`` of it (near the ceiling, where a comparison has
    little room to show a difference); None otherwise."""
    gap = 1.0 - min(float(np.mean(s)) for s in series)
    return gap if gap < within else None


def one_sd_reading(subnetwork: Sequence[float], dense: Sequence[float]) -> tuple[str, float, float, float]:
    """Chen et al. 2020's reading of *matching* (Section 3, Table 2): is the subnetwork's
    mean within one standard deviation (over seeds, ddof 1) of the dense runs' mean?
    Returns ``(where, subnetwork mean, dense mean, sd)`` with ``where`` one of "within",
    "below" (more than one sd below), "above" (more than one sd above). A description,
    not a test."""
    s, d = np.asarray(subnetwork, dtype=float), np.asarray(dense, dtype=float)
    sd = float(np.std(d, ddof=1)) if len(d) > 1 else float("nan")
    diff = float(s.mean() - d.mean())
    where = "below" if diff < -sd else "above" if diff > sd else "within"
    return where, float(s.mean()), float(d.mean()), sd


LAYER_WORDS = {"embed": "token embedding", "position": "position embedding", "query": "query",
               "key": "key", "value": "value", "out": "attention output", "fc1": "MLP in",
               "fc2": "MLP out", "output": "output (unembedding)"}


def layer_words(names: Sequence[str]) -> list[str]:
    """Words for the transformer's prunable layers: ``blocks.0.query.weight`` -> "block 1
    query", ``embed.weight`` -> "token embedding"."""
    words = []
    for name in names:
        parts = name.split(".")
        base = LAYER_WORDS.get(parts[-2], parts[-2])
        words.append(f"block {int(parts[1]) + 1} {base}" if parts[0] == "blocks" else base)
    return words


def carry_over_markdown(rows: Sequence[tuple[str, str, str]]) -> str:
    """The "what carries over" table: (earlier notebook's finding, what this run shows,
    reading)."""
    lines = ["| finding of notebooks 02-06 | in this transformer | reading |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


def per_seed(values: Mapping[tuple[OneShot, int], Any], how: OneShot, seeds: Sequence[int], read) -> np.ndarray:
    """``read(values[(how, seed)])`` for each seed, as an array."""
    return np.array([read(values[(how, int(s))]) for s in seeds], dtype=float)


# ----------------------------------------------------------------- notebook 10's reads and words
# The notebook renders its sentences with ``say(template, **values)``: the templates (the
# story) stay in the notebook, and every value read from the runs, and every phrase that
# follows a verdict, comes from here, so no notebook cell reads results or words a verdict.
INTERVAL_NOTE = ("*Every row pairs the same seeds (a ticket, its controls and its one-shot prunings share the seed's "
                 "dense run); the note under the table says how its verdict is decided. The claims' comparisons, "
                 "densities, margins and roles are the chapter's spec (`lthlib.experiments.transformer_study`), fixed before "
                 "the run.*")

_OPTIMIZER_WORDS = {"adam": "Adam with an L2 term of {wd:g} (`weight_decay`, added to the gradient)",
                    "adamw": "AdamW with decoupled weight decay {wd:g}",
                    "sgd": "SGD with weight decay {wd:g}"}


def optimizer_words(settings: TrainSettings) -> str:
    """The optimiser and its decay in words: Adam's ``weight_decay`` is an L2 term added to
    the gradient, not AdamW's decoupled decay, and the prose must not blur the two."""
    return _OPTIMIZER_WORDS[settings.optimizer].format(wd=settings.weight_decay)


def layer_table(model: torch.nn.Module) -> str:
    """A Markdown table of ``model``'s prunable layers (words, state-dict name, shape,
    weights, share of all prunable weights): what IMP and the one-shot prunings act on."""
    sizes = {n: p.numel() for n, p in prunable_parameters(model).items()}
    state = model.state_dict()
    rows = ["| layer | name in the state dict | shape | weights | share |", "|---|---|---|---|---|"]
    for word, name in zip(layer_words(list(sizes)), sizes):
        rows.append(f"| {word} | `{name}` | {tuple(state[name].shape)} | {sizes[name]:,} | "
                    f"{sizes[name] / sum(sizes.values()):.1%} |")
    return "\n".join(rows)


def _yes_no(claim: Claim) -> str:
    return verdict_word(claim, "yes", "no", "not shown")


@dataclass(frozen=True)
class DenseReach:
    """Section 2's reading of the dense runs: the iterations each seed needs to reach
    ``threshold`` in training and in validation accuracy, a run that never does counted as
    ``end`` (a lower bound on its time: *censored*), and which runs never did. Grokking is
    validation lagging training, so the claim is on their ratio."""

    train: np.ndarray
    val: np.ndarray
    train_never: np.ndarray
    val_never: np.ndarray
    threshold: float
    end: int

    @property
    def ratio(self) -> np.ndarray:
        """Validation's iterations over training's, per seed (censored times as values)."""
        return self.val / self.train

    @property
    def censored(self) -> np.ndarray:
        """Seeds whose ratio rests on at least one censored time."""
        return self.val_never | self.train_never

    def check(self, claims: Claims, experiment: TransformerExperiment) -> Claim:
        """The grokking claim (a diagnostic): validation takes at least ``grokking_ratio``
        times training's iterations."""
        return claims.check(f"validation accuracy takes at least twice as many iterations as training accuracy "
                            f"to reach {self.threshold:.0%} (grokking)", self.ratio,
                            threshold=experiment.grokking_ratio, role=experiment.roles["grokking"],
                            statistic="ratio", unit="x")

    def values(self, grokking: Claim) -> dict[str, Any]:
        """What section 2's sentence states: both times, how many seeds are censored, the
        ratio over the uncensored seeds alone (when there are both kinds), and the answer
        worded from ``grokking``'s verdict."""
        censored = self.censored
        rest = (f"; over the other {int((~censored).sum())} seeds alone the ratio is "
                f"{spread(self.ratio[~censored], '.2f')}, mean (min-max), a description, not a claim"
                if censored.any() and (~censored).any() else "")
        return dict(thr=self.threshold, tr=spread(self.train, ",.0f"), va=spread(self.val, ",.0f"),
                    never=int(self.val_never.sum()), tnever=int(self.train_never.sum()), either=int(censored.sum()),
                    n=len(self.val), T=self.end, rest=rest, word=verdict_word(grokking, "yes", "no", "not clearly"),
                    why=verdict_word(grokking, ": validation lags training by more than training's own time",
                                     ": validation follows training within a fraction of the time training took",
                                     " (the seeds cannot tell)"))


def dense_reach(dense: Sequence[Run], threshold: float, end: int) -> DenseReach:
    """``DenseReach`` of the dense runs (one per seed)."""
    train = [steps_to(run, threshold, "train_acc") for run in dense]
    val = [steps_to(run, threshold, "val_acc") for run in dense]
    return DenseReach(np.array([end if v is None else v for v in train], dtype=float),
                      np.array([end if v is None else v for v in val], dtype=float),
                      np.array([v is None for v in train]), np.array([v is None for v in val]), threshold, end)


def dense_reference(dense: Sequence[Run], end: int) -> dict[str, Any]:
    """What the sentence on the dense reference states: its test accuracy at early
    stopping and where that was read, and in how many seeds the minimum of validation loss
    is the last evaluation with the loss still falling (then the reference every
    comparison uses is under-trained, and the prose says so)."""
    still_falling = int(sum(run.early_stop_index == len(run.iterations) - 1 and run.val_loss[-1] < run.val_loss[-2]
                            for run in dense))
    return dict(acc=spread([run.at_early_stop() for run in dense]),
                es=spread(np.array([run.early_stop_iteration for run in dense]), ",.0f"), last=still_falling,
                n=len(dense), T=end,
                under=(": the dense reference is **under-trained** at this budget, and with more iterations "
                       "it may be more accurate than it is here" if still_falling else ""))


def grokked_words(grokking: Claim) -> str:
    """How the dense network learned, worded from the grokking verdict (for the sentence
    that sets this run's tickets beside Minegishi et al.'s, which come from a network that
    grokked)."""
    return verdict_word(grokking, "grokked too", "learned the task without grokking, so this measures a speed-up "
                        "where there is no long delay to remove", "may or may not have grokked")


_MATCHING_PAPER = ("threshold: this notebook's choice (1 point), not Chen et al.'s one-standard-deviation "
                   "criterion. Compare Chen et al. 2020 (abstract), pre-trained BERT: \"we indeed find "
                   "matching subnetworks at 40% to 90% sparsity\"")
_SPEED_PAPER = ("compare (not reproduced: no grokking here, ticket rewound to k) Minegishi et al. "
                "2023, arXiv 2310.19470v1 (abstract): \"the lottery tickets drastically "
                "accelerate grokking compared to the dense networks\"")
_CONTROL_SPEED_PAPER = {"random_mask": "our random pruning is masked at k = {k} with the ticket's per-layer densities, "
                                       "not at initialisation. Compare Minegishi et al. 2023, arXiv 2310.19470v1 "
                                       "(abstract): the speed-up does not happen \"when pruning networks at the "
                                       "initialization (Random pruning, Grasp, SNIP, and Synflow)\""}


@dataclass
class TicketStudy:
    """Section 3's reads of the IMP runs, seed by seed: mean densities per round (percent),
    test accuracy at early stopping per kind (seeds x rounds; NaN where a control was not
    trained), the same for the tickets reset to iteration 0, and the iterations to reach the
    threshold (censored at T) with which runs never did. Every claim and sentence of
    section 3 reads these, so the comparisons pair the same seeds."""

    experiment: TransformerExperiment
    densities: np.ndarray
    acc: dict[str, np.ndarray]
    acc0: np.ndarray
    steps: dict[str, np.ndarray]
    never: dict[str, np.ndarray]
    chance: float

    @property
    def kinds(self) -> list[str]:
        return ["ticket", *self.experiment.imp.controls]

    @property
    def controls(self) -> tuple[str, ...]:
        return tuple(self.experiment.imp.controls)

    @property
    def claim_round(self) -> int:
        return self.experiment.claim_round

    @property
    def k(self) -> int:
        return self.experiment.imp.rewind_iteration

    @property
    def T(self) -> int:
        return self.experiment.train.iterations

    @property
    def claim_density(self) -> float:
        """The claim round's mean density, in percent."""
        return float(self.densities[self.claim_round])

    @property
    def dense_acc(self) -> np.ndarray:
        """The dense network's test accuracy per seed (IMP's round 0)."""
        return self.acc["ticket"][:, 0]

    def at(self, kind: str) -> np.ndarray:
        """``kind``'s test accuracy per seed at the claim round."""
        return self.acc[kind][:, self.claim_round]

    def round_values(self) -> dict[str, Any]:
        """What the sentence on IMP's rounds states: k, T, the rounds, their densities and
        the round the claims read."""
        imp = self.experiment.imp
        return dict(k=self.k, T=self.T, rounds=imp.rounds, rate=imp.rate,
                    pcts=", ".join(f"{d:.0f}%" for d in self.densities[1:]), rc=self.claim_round,
                    dc=self.claim_density)

    def bars(self) -> dict[str, dict[str, np.ndarray]]:
        """The figure's groups: per pruned round, every kind trained there."""
        return {f"{self.densities[r]:.0f}% of weights": {kind_label(kind): self.acc[kind][:, r] for kind in self.kinds
                                                          if not np.isnan(self.acc[kind][:, r]).any()}
                for r in range(1, len(self.densities))}

    def accuracy_table(self) -> str:
        """Every round's test accuracy per kind, mean (min-max) over seeds ("-": not trained)."""
        kinds = self.kinds
        rows = ["| round | % of weights | " + " | ".join(kind_label(k_) for k_ in kinds) + " |",
                "|---|---|" + "---|" * len(kinds)]
        for r, d in enumerate(self.densities):
            rows.append(f"| {r} | {d:.0f} | " + " | ".join("-" if np.isnan(self.acc[k_][:, r]).any()
                                                           else spread(self.acc[k_][:, r]) for k_ in kinds) + " |")
        return ("Test accuracy at the early-stopping iteration, mean (min-max) over seeds; round 0 is the dense "
                "network.\n\n" + "\n".join(rows))

    def check_tickets(self, claims: Claims) -> tuple[list[Claim], Claim]:
        """The ticket against each control at the claim round (headline), and matching: no
        more than ``matching_margin`` below the dense network (this notebook's threshold,
        a diagnostic)."""
        e, d = self.experiment, self.claim_density
        against = [claims.paired(f"the ticket is more accurate than {kind_label(c)} at {d:.0f}% of weights (test "
                                 "accuracy at early stopping)", better=self.at("ticket"), worse=self.at(c),
                                 role=e.roles["ticket_vs_control"])
                   for c in self.controls]
        margin = e.matching_margin
        matching = claims.paired(f"the ticket is matching at {d:.0f}% of weights: within {-100 * margin:.0f} point of "
                                 "the dense network's test accuracy, or better", better=self.at("ticket"),
                                 worse=self.dense_acc, margin=margin, role=e.roles["matching"], paper=_MATCHING_PAPER)
        return against, matching

    def at_chance(self) -> list[str]:
        """The controls below twice chance in every seed at the claim round: they learned
        nothing, which the prose says."""
        return [kind_label(c) for c in self.controls if self.at(c).max() < 2 * self.chance]

    def ticket_values(self, against: Sequence[Claim], matching: Claim) -> dict[str, Any]:
        """What section 3's sentence states: each kind's accuracy at the claim round, which
        controls stay at chance (and what accuracy below chance means), and the answers
        worded from the verdicts."""
        chance, stuck = self.chance, self.at_chance()
        return dict(
            below=(" Accuracy below chance means nothing was learned, not that something wrong was: for example, a "
                   "network that predicts the same residue (or a few) whatever its input scores that residue's share "
                   "of the test pairs, which is under chance when the residue is rarer than average among them."
                   if any(self.at(c).mean() < chance for c in self.controls) else ""),
            stuck=(f" ({' and '.join(stuck)} stay at chance level: below twice chance, {2 * chance:.3f}, in every "
                   "seed, at early stopping)" if stuck else ""),
            d=self.claim_density, t=spread(self.at("ticket")),
            controls="; ".join(f"{kind_label(c)} {spread(self.at(c))}" for c in self.controls),
            beats=" and ".join(f"{_yes_no(c_)} against {kind_label(c)}" for c_, c in zip(against, self.controls)),
            pts=-100 * self.experiment.matching_margin, dn=spread(self.dense_acc), match=_yes_no(matching))

    def chen_values(self) -> dict[str, Any]:
        """Chen et al.'s one-standard-deviation reading of matching, as a description, and
        whether both means sit so near 1.0 that no comparison could separate them."""
        where, t_mean, d_mean, sd = one_sd_reading(self.at("ticket"), self.dense_acc)
        gap = ceiling_gap(self.at("ticket"), self.dense_acc)
        return dict(t=t_mean, dm=d_mean, sd=sd,
                    where={"within": "within one standard deviation of", "below": "more than one standard deviation "
                           "below", "above": "more than one standard deviation above"}[where],
                    reads={"within": "is matching", "below": "is not matching",
                           "above": "is matching (it is better than the dense network)"}[where],
                    ceiling=(f" Both means are within {gap:.3f} of perfect accuracy (1.000): so near the ceiling there "
                             "is little room left for a difference, and this comparison cannot separate the ticket "
                             "from the dense network." if gap is not None else ""))

    def check_speed(self, claims: Claims) -> list[Claim]:
        """Iterations to the threshold: the ticket against the dense network, then against
        each control (all diagnostics: section 3 says why)."""
        e, d, r, thr = self.experiment, self.claim_density, self.claim_round, self.experiment.threshold
        speed = [claims.paired(f"the ticket reaches {thr:.0%} validation accuracy in fewer iterations than the dense "
                               f"network, at {d:.0f}% of weights", better=self.steps["ticket"][:, 0],
                               worse=self.steps["ticket"][:, r], unit=" it", role=e.roles["speed_vs_dense"],
                               paper=_SPEED_PAPER)]
        speed += [claims.paired(f"the ticket reaches {thr:.0%} validation accuracy in fewer iterations than "
                                f"{kind_label(c)}, at {d:.0f}% of weights", better=self.steps[c][:, r],
                                worse=self.steps["ticket"][:, r], unit=" it", role=e.roles["speed_vs_control"],
                                paper=_CONTROL_SPEED_PAPER.get(c, "").format(k=self.k))
                  for c in self.controls]
        return speed

    def speed_values(self, speed: Sequence[Claim]) -> dict[str, Any]:
        """What the speed sentence states: iterations to the threshold per kind, how many
        runs never got there, and the answers worded from the verdicts (``speed[0]``: the
        dense network, then the controls)."""
        r, never = self.claim_round, self.never
        return dict(thr=self.experiment.threshold, dn=spread(self.steps["ticket"][:, 0], ",.0f"),
                    nd=int(never["ticket"][:, 0].sum()), n=len(self.dense_acc), T=self.T, d=self.claim_density,
                    tk=spread(self.steps["ticket"][:, r], ",.0f"), nt=int(never["ticket"][:, r].sum()),
                    ctl="".join(f"; {kind_label(c)} {spread(self.steps[c][:, r], ',.0f')} "
                                f"({int(never[c][:, r].sum())} never)" for c in self.controls),
                    w1=_yes_no(speed[0]), w2=" and ".join(_yes_no(c_) for c_ in speed[1:]))

    def censoring_words(self) -> str:
        """Why the speed rows against the controls measure accuracy again, not speed: a
        control that never reaches the threshold is counted at T, so the difference is T
        minus the ticket's time (said for every seed, or with the counts)."""
        n, T = len(self.dense_acc), self.T
        counts = {c: int(self.never[c][:, self.claim_round].sum()) for c in self.controls}
        if all(v == n for v in counts.values()):
            return (f"no control reaches the threshold in any seed (each counted as {T:,}), so each difference is "
                    f"{T:,} minus the ticket's time: these rows repeat the accuracy rows above rather than measure a "
                    "speed.")
        return (f"a control run that never reaches the threshold "
                f"({'; '.join(f'{kind_label(c)}: {v} of {n} seeds' for c, v in counts.items())}) is counted as "
                f"{T:,}, so for it the difference is {T:,} minus the ticket's time, which repeats the accuracy rows "
                "above rather than measures a speed.")

    def check_rewinding(self, claims: Claims) -> Claim:
        """The ticket rewound to k against the ticket reset to iteration 0 (a diagnostic:
        expected null for one block)."""
        return claims.paired(f"the ticket rewound to k = {self.k} is more accurate than the ticket reset to "
                             f"iteration 0, at {self.claim_density:.0f}% of weights", better=self.at("ticket"),
                             worse=self.acc0[:, self.claim_round], role=self.experiment.roles["rewinding"])

    def rewinding_values(self, rewinding: Claim) -> dict[str, Any]:
        """What the rewinding sentence states: both tickets' accuracy, the answer and its
        reading worded from the verdict, and the ceiling caveat when both are near 1.0."""
        reset = self.acc0[:, self.claim_round]
        gap = ceiling_gap(self.at("ticket"), reset)
        return dict(
            ceiling=(f" Both means are within {gap:.3f} of perfect accuracy (1.000): so near the ceiling there is "
                     "little room left for a difference, and this comparison cannot separate the two tickets."
                     if gap is not None else ""),
            d=self.claim_density, k=self.k, a=spread(self.at("ticket")), b=spread(reset), w=_yes_no(rewinding),
            why=verdict_word(rewinding, "As for notebook 03's deeper networks, the rewound ticket is the better one.",
                             "The ticket reset to iteration 0 is the better one.",
                             "No difference is shown at this density (which is not the same as showing the two are "
                             "equal), in line with notebook 02's shallow MLP, where k = 0 was enough."))


def ticket_study(experiment: TransformerExperiment, results: Sequence[IMPResult], at_zero: Sequence[IMPResult],
                 chance: float) -> TicketStudy:
    """``TicketStudy`` of IMP's runs (``results``, with controls) and the same IMP reset to
    iteration 0 (``at_zero``), seeds in the same order; ``chance``: 1 / classes."""
    kinds = ["ticket", *experiment.imp.controls]
    reach = {kind: steps_table(results, kind, experiment.threshold, experiment.train.iterations) for kind in kinds}
    return TicketStudy(experiment, 100 * np.mean([res.densities() for res in results], axis=0),
                       {kind: np.array([res.metric(kind) for res in results]) for kind in kinds},
                       np.array([res.metric("ticket") for res in at_zero]),
                       {k_: v[0] for k_, v in reach.items()}, {k_: v[1] for k_, v in reach.items()}, chance)


@dataclass
class OneShotStudy:
    """Section 4's reads: per one-shot pruning, test accuracy per seed as pruned, after the
    short fine-tune (at early stopping) and the IMP ticket's at the same density, beside
    the dense network's. The claims' prunings (``ONE_SHOT_CLAIMS``) are named for the
    prose: ``mag50``, ``mag25``, ``mag24``, ``wanda50``."""

    experiment: TransformerExperiment
    as_pruned: dict[OneShot, np.ndarray]
    finetuned: dict[OneShot, np.ndarray]
    ticket_at: dict[OneShot, np.ndarray]
    dense: np.ndarray

    @property
    def series(self) -> dict[str, dict[OneShot, np.ndarray]]:
        """The three series the claims read (``ONE_SHOT_SIDES``)."""
        return {"ticket": self.ticket_at, "as_pruned": self.as_pruned, "finetuned": self.finetuned}

    @property
    def F(self) -> int:
        return self.experiment.finetune["iterations"]

    @property
    def finetune_label(self) -> str:
        return f"fine-tuned ({self.F} it)"

    @property
    def mag50(self) -> OneShot:
        return self.experiment.one_shot_claims[0].better[1]

    @property
    def mag25(self) -> OneShot:
        return self.experiment.one_shot_claims[1].better[1]

    @property
    def mag24(self) -> OneShot:
        return self.experiment.one_shot_claims[2].worse[1]

    @property
    def wanda50(self) -> OneShot:
        return self.experiment.one_shot_claims[3].better[1]

    def table_values(self) -> dict[str, Any]:
        """What the sentence above the table states: the fine-tune, the dense network,
        Wanda's calibration examples."""
        T = self.experiment.train.iterations
        return dict(F=self.F, share=self.F / T, T=T, dense=spread(self.dense), cal=self.experiment.calibration)

    def table(self) -> str:
        """Every pruning's accuracy as pruned, fine-tuned and the ticket's, mean (min-max)."""
        rows = ["| one-shot pruning | % of weights | as pruned | fine-tuned | IMP ticket, same density |",
                "|---|---|---|---|---|"]
        rows += [f"| {how.label} | {100 * how.density:.0f} | {spread(self.as_pruned[how])} | "
                 f"{spread(self.finetuned[how])} | {spread(self.ticket_at[how])} |" for how in self.experiment.one_shot]
        return "\n".join(rows)

    def panels(self) -> tuple[dict[str, dict[str, dict[str, np.ndarray]]], dict[str, dict[str, np.ndarray]]]:
        """The figure's ``(panels, lines)``: a panel per density, a group per pruning (as
        pruned and fine-tuned), the ticket at that density and the dense network as lines."""
        panels: dict[str, dict[str, dict[str, np.ndarray]]] = {}
        lines: dict[str, dict[str, np.ndarray]] = {}
        for how in self.experiment.one_shot:
            panel = f"{100 * how.density:.0f}% of weights"
            panels.setdefault(panel, {})[how.label.replace(", ", "\n")] = {
                "as pruned (no retraining)": self.as_pruned[how], self.finetune_label: self.finetuned[how]}
            lines[panel] = {"IMP ticket, same density": self.ticket_at[how], "dense network (100%)": self.dense}
        return panels, lines

    def claim_values(self, checked: Sequence[Claim]) -> dict[str, Any]:
        """What section 4's sentence states: the claims' prunings and the ticket at both
        densities, each question answered from its verdict (``checked``: the
        ``ONE_SHOT_CLAIMS`` verdicts, in order)."""
        m50, m25, m24, w50 = self.mag50, self.mag25, self.mag24, self.wanda50
        return dict(d50=100 * m50.density, m=spread(self.as_pruned[m50]), w=spread(self.as_pruned[w50]),
                    t50=spread(self.ticket_at[m50]), w0=_yes_no(checked[0]), w3=_yes_no(checked[3]), F=self.F,
                    mf=spread(self.finetuned[m50]), w4=_yes_no(checked[4]), m24f=spread(self.finetuned[m24]),
                    w2=_yes_no(checked[2]), d25=100 * m25.density, m25f=spread(self.finetuned[m25]),
                    t25=spread(self.ticket_at[m25]), w1=_yes_no(checked[1]))

    def nm_values(self) -> dict[str, Any]:
        """What the N:M description at the lower density states (rows no claim reads): each
        pattern against its score's unstructured pruning after the fine-tune, and Wanda
        against magnitude, with how many seeds lie below."""
        d25 = self.mag25.density
        at25 = [h for h in self.experiment.one_shot if h.density == d25]
        unstructured = {h.score: h for h in at25 if h.pattern is None}
        wanda25, mag25, ft = unstructured["wanda"], self.mag25, self.finetuned
        n = len(self.dense)
        return dict(d25=100 * d25, w=spread(self.as_pruned[wanda25]), wf=spread(ft[wanda25]),
                    m=spread(self.as_pruned[mag25]), mf=spread(ft[mag25]), n=n, k=int((ft[wanda25] < ft[mag25]).sum()),
                    nm="; ".join(f"with {SCORE_LABELS[h.score]} scores, {h.pattern[0]}:{h.pattern[1]} reaches "
                                 f"{spread(ft[h])} against unstructured's {spread(ft[unstructured[h.score]])} "
                                 f"(lower in {int((ft[h] < ft[unstructured[h.score]]).sum())} of {n} seeds)"
                                 for h in at25 if h.pattern is not None))

    def sun_values(self, checked: Sequence[Claim], matching: Claim, claim_density: float) -> dict[str, Any]:
        """What the sentence set beside Sun et al.'s "used as is" states: whether one-shot
        pruning at 50% fell below its ticket (from the verdict), whether it collapsed to
        under half the dense accuracy, and, where the matching claim was read at the lower
        density (``claim_density``, percent), that the ticket there is matching."""
        m50, m25 = self.mag50, self.mag25
        dense_mean = float(self.dense.mean())
        collapsed = float(self.as_pruned[m50].mean()) < dense_mean / 2
        return dict(
            d50=100 * m50.density,
            lost=verdict_word(checked[0], "falls below its ticket", "does better than its ticket",
                              "cannot be told apart from its ticket"),
            collapse=(f": it keeps {self.as_pruned[m50].mean():.3f} test accuracy, less than half of the dense "
                      f"network's {dense_mean:.3f}. One possible reason for the collapse, not tested here: every layer "
                      "is pruned, the embeddings and the output layer included, which Sun et al. leave dense "
                      "(exercise 2 leaves them dense for IMP)." if collapsed else "."),
            d25=100 * m25.density, t25=spread(self.ticket_at[m25]), dn=spread(self.dense),
            enough=(verdict_word(matching, f", within this notebook's matching threshold (section 3): the network "
                                           f"does not need every weight it has, {100 * m25.density:.0f}% of them, "
                                           "chosen and trained by IMP, carry the task", "", "")
                    if abs(claim_density - 100 * m25.density) < 0.5 else ""))


def one_shot_study(experiment: TransformerExperiment, one_shot: Mapping[tuple[OneShot, int], OneShotResult],
                   seeds: Sequence[int], ticket_acc: np.ndarray) -> OneShotStudy:
    """``OneShotStudy`` of ``run_one_shot``'s results; ``ticket_acc``: the IMP ticket's test
    accuracy, seeds x rounds (round 0: the dense network), seeds in ``seeds``' order."""
    as_pruned, finetuned, ticket_at = {}, {}, {}
    for how in experiment.one_shot:
        as_pruned[how] = per_seed(one_shot, how, seeds, lambda o: o.test_acc)
        finetuned[how] = per_seed(one_shot, how, seeds, lambda o: o.finetuned.at_early_stop())
        ticket_at[how] = ticket_acc[:, experiment.round_of(how.density)]
    return OneShotStudy(experiment, as_pruned, finetuned, ticket_at, ticket_acc[:, 0])


def feature_ratios(model: torch.nn.Module, calibration: torch.Tensor) -> dict[str, float]:
    """Per Linear layer (embedding tables left out: their input is a token id), the largest
    input-feature norm over the median on ``calibration``: Wanda's score differs from
    magnitude's where a few input features are much larger than the rest."""
    norms = input_norms(model, calibration)
    linear = [n for n in prunable_parameters(model) if "embed" not in n and "position" not in n]
    return {n: float(norms[n].max() / norms[n].median().clamp_min(1e-12)) for n in linear}


def feature_ratio_table(ratio: Mapping[str, float], seed: int, calibration: int) -> str:
    """The ratios as a Markdown table, under a line naming the network and the examples."""
    return (f"Seed {seed}'s dense network, on the first {calibration:,} training pairs:\n\n"
            "| layer | largest / median input norm |\n|---|---|\n"
            + "\n".join(f"| {w} | {ratio[n]:.1f} |" for w, n in zip(layer_words(list(ratio)), ratio)))


def feature_ratio_words(ratio: Mapping[str, float], large: float = 10.0) -> str:
    """The largest ratio, where it is, and what it suggests for Wanda against magnitude
    pruning (``large``: our own threshold for a large-magnitude feature, not Sun et al.'s)."""
    top = max(ratio.values())
    reading = ("No input feature stands ten times above the median (our own threshold for a large-magnitude "
               "feature, not Sun et al.'s): a hypothesis, not measured here, is that Wanda's score is then close to a "
               "per-row magnitude ranking, so that its comparison group rather than the activations separates it from "
               "magnitude pruning (compare Wanda's mask with per-row magnitude pruning's to test it)."
               if top < large else
               "Some input features stand ten or more times above the median (our threshold for a large-magnitude "
               "feature): there, Wanda keeps small weights that magnitude pruning would remove.")
    return f"The largest ratio is {top:.1f} ({layer_words([max(ratio, key=ratio.get)])[0]}). {reading}"

