"""Notebook 07's experiment: networks sparse from the first step (static sparse, SET, RigL:
``lthlib.methods.sparse_training``) at notebook 06's densities, beside the IMP ticket of notebook 02
and two of notebook 06's masks chosen at initialisation, on the same seeds; what each route
pays in training multiply-adds; and whether the IMP ticket trains back towards the dense
solution it was pruned from (Evci, Ioannou, Keskin & Dauphin 2022).

The notebook reads its runs through ``SparseResults``; ``solution_relations`` measures the
tickets against the dense solution; ``answer`` words the notebook's closing answer from its
claims' verdicts.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from torch import nn

from lthlib.data.datasets import Dataset
from lthlib.engine.passes import train_members
from lthlib.experiments.imp import IMPResult, IMPSettings, kind_color, kind_label
from lthlib.experiments.lmc import STABLE_BARRIER, solution_relation
from lthlib.experiments.pai_study import accuracy_table, run_pai
from lthlib.masks import Mask
from lthlib.methods.pai import METHOD_COLORS as PAI_COLORS
from lthlib.methods.pai import METHOD_LABELS as PAI_LABELS
from lthlib.report.claims import Claim, direction_word, spread, spread_table, verdict_word
from lthlib.settings import TrainSettings
from lthlib.methods.sparse_training import (METHOD_COLORS, METHOD_LABELS, METHODS, SparseTrainingSettings, run_sparse,
                                    training_flops)
from lthlib.core.store import Store
from lthlib.engine.training import Run, model_for

PAI_COMPARED = ("snip", "synflow")  # notebook 06's masks shown beside the sparse-from-scratch networks
TICKET_LABEL = kind_label("ticket") + " (k=0)"
RELATIONS = ("IMP ticket", "same mask, fresh weights")


def label(method: str, distribution: str = "erk") -> str:
    """A sparse-training method's label in figures and tables, e.g. "RigL (ERK)"."""
    return f"{METHOD_LABELS[method]} ({distribution.upper() if distribution == 'erk' else distribution})"


@dataclass(frozen=True)
class SparseResults:
    """Every (method, density) of ``settings`` trained on ``seeds`` (``runs`` of
    ``run_sparse``), the IMP runs of the same seeds (notebook 02's, ``imp``) and notebook
    06's runs of ``PAI_COMPARED`` (``pai_runs``). Arrays are seeds x densities, read where
    the papers read (``Run.reported``)."""

    seeds: tuple[int, ...]
    densities: tuple[float, ...]
    rounds: tuple[int, ...]
    settings: Mapping[tuple[str, float], SparseTrainingSettings]
    runs: Mapping[tuple[SparseTrainingSettings, int], Run]
    imp: tuple[IMPResult, ...]
    pai_runs: Mapping

    @property
    def percents(self) -> list[float]:
        return [100 * d for d in self.densities]

    def acc(self, method: str) -> np.ndarray:
        return np.array([[self.runs[(self.settings[(method, d)], s)].reported() for d in self.densities]
                         for s in self.seeds])

    def ticket(self) -> np.ndarray:
        return np.array([[res.rounds[r - 1].ticket.reported() for r in self.rounds] for res in self.imp])

    def dense(self) -> np.ndarray:
        return np.array([res.dense.reported() for res in self.imp])

    def pai_acc(self, method: str) -> np.ndarray:
        return np.array(accuracy_table(self.pai_runs, method, "none", self.densities, self.seeds)).T

    def series(self, pai: bool = True) -> dict[str, np.ndarray]:
        """The IMP ticket, each sparse-training method, then (``pai``) notebook 06's masks."""
        out = {TICKET_LABEL: self.ticket(), **{label(m): self.acc(m) for m in METHODS}}
        if pai:
            out.update({PAI_LABELS[m]: self.pai_acc(m) for m in PAI_COMPARED})
        return out

    def styles(self) -> dict[str, dict[str, Any]]:
        """The IMP ticket thick in its colour; static sparse dashed; notebook 06's masks dotted,
        in notebook 06's colours."""
        out = {TICKET_LABEL: {"lw": 2.4, "color": kind_color("ticket")}}
        out.update({label(m): {"color": METHOD_COLORS[m], **({"ls": "--"} if m == "static" else {})} for m in METHODS})
        out.update({PAI_LABELS[m]: {"color": PAI_COLORS[m], "ls": ":"} for m in PAI_COMPARED})
        return out

    def colors(self) -> dict[str, str]:
        return {k: v["color"] for k, v in self.styles().items()}

    def table(self) -> str:
        return spread_table(self.percents, self.series())

    def _at_each(self, words: Sequence[str], suffix: str = "") -> str:
        """"above at every density", or "above at 36.7%, not clearly above at 5.2%"."""
        if len(set(words)) == 1:
            return f"{words[0]}{suffix} at every density"
        return ", ".join(f"{w}{suffix} at {p:.1f}%" for w, p in zip(words, self.percents))

    def reading(self) -> str:
        """Markdown "what to see" under the accuracy figure: seed by seed at each density,
        whether SET and RigL are above static sparse training, and where the IMP ticket
        stands against the best of them (exact sign-flip tests at 0.05, no claim made)."""
        static = self.acc("static")

        def words(a: np.ndarray, b: np.ndarray) -> list[str]:
            return [direction_word(a[:, j] - b[:, j], "above", "below", "not clearly above") for j in range(a.shape[1])]

        parts = [f"{METHOD_LABELS[m]} is " + self._at_each(words(self.acc(m), static)) for m in ("set", "rigl")]
        best = max(("set", "rigl"), key=lambda m: self.acc(m)[:, -1].mean())
        return ("**What to see.** Against static sparse training (the same random ERK mask, never moved), seed by "
                "seed: " + "; ".join(parts) + ". The IMP ticket is "
                + self._at_each(words(self.ticket(), self.acc(best)), f" {METHOD_LABELS[best]}")
                + f" ({METHOD_LABELS[best]}: the higher mean of SET and RigL at the sparsest density). Exact "
                  "sign-flip tests at 0.05 over the seeds' paired differences; no claim is made here.")

    def costs(self, model: nn.Module, input_shape: tuple[int, ...], iterations: int, batch_size: int,
              imp_settings: IMPSettings) -> dict[str, list[float]]:
        """Training multiply-adds per density, in multiples of one dense training run
        (``sparse_training.training_flops``): the IMP ticket at round r has paid for the
        dense run and every round's training up to r, each at its own mask (the first
        seed's: every seed's masks have the same per-layer counts); each sparse method its
        one run (the first seed's final mask's density; RigL's update steps at the dense
        gradient's cost)."""
        dense = training_flops(model, input_shape, iterations, batch_size)
        first = self.imp[0]
        ticket = [(dense + sum(training_flops(model, input_shape, iterations - imp_settings.rewind_iteration,
                                              batch_size, mask=first.rounds[q].mask) for q in range(r))) / dense
                  for r in self.rounds]
        out = {TICKET_LABEL: ticket}
        for m in METHODS:
            out[label(m)] = [training_flops(model, input_shape, iterations, batch_size,
                                            mask=Mask(self.runs[(self.settings[(m, d)], self.seeds[0])].mask),
                                            settings=self.settings[(m, d)]) / dense for d in self.densities]
        return out

    def cost_reading(self, costs: Mapping[str, Sequence[float]], j: int = -1) -> str:
        j = j % len(self.densities)
        return (f"**What to see.** At {self.percents[j]:.1f}% of the weights, the IMP ticket has paid "
                f"{costs[TICKET_LABEL][j]:.2f} dense training runs for {spread(self.ticket()[:, j])}; RigL paid "
                f"{costs[label('rigl')][j]:.3f} for {spread(self.acc('rigl')[:, j])}, SET "
                f"{costs[label('set')][j]:.3f} for {spread(self.acc('set')[:, j])}, static sparse "
                f"{costs[label('static')][j]:.3f} for {spread(self.acc('static')[:, j])}.")


def sparse_study(train_settings: TrainSettings, data: Dataset, base: SparseTrainingSettings, densities: Sequence[float],
                 rounds: Sequence[int], seeds: Sequence[int], imp: Sequence[IMPResult],
                 store: Store | None = None) -> SparseResults:
    """Train (or read from the store) every method of ``sparse_training.METHODS`` with ERK
    masks at each density, and read notebook 06's ``PAI_COMPARED`` runs at the same
    densities: a ``SparseResults``."""
    densities = tuple(float(d) for d in densities)
    settings = {(m, d): base.replace(method=m, density=d, distribution="erk") for m in METHODS for d in densities}
    runs = run_sparse(train_settings, data, list(settings.values()), seeds, store=store)
    pai_runs = run_pai(train_settings, data, PAI_COMPARED, densities, seeds, store=store)
    return SparseResults(tuple(int(s) for s in seeds), densities, tuple(rounds), settings, runs, tuple(imp), pai_runs)


def uniform_vs_erk(train_settings: TrainSettings, data: Dataset, base: SparseTrainingSettings,
                   results: SparseResults, seeds: Sequence[int], store: Store | None = None,
                   method: str = "rigl", j: int = -1) -> str:
    """Markdown: ``method`` at density index ``j`` from ERK and from uniform initial
    densities (the uniform runs trained or read here), seed by seed."""
    j = j % len(results.densities)
    uniform = base.replace(method=method, density=results.densities[j], distribution="uniform")
    runs = run_sparse(train_settings, data, [uniform], seeds, store=store)
    uni = np.array([runs[(uniform, int(s))].reported() for s in seeds])
    erk = results.acc(method)[:, j]
    return (f"{METHOD_LABELS[method]} at {results.percents[j]:.1f}%: ERK {spread(erk)}, uniform {spread(uni)} (mean "
            f"(min-max) over seeds). Seed by seed, ERK is "
            f"{direction_word(erk - uni, 'above', 'below', 'not clearly above')} uniform (exact sign-flip test at "
            "0.05, no claim made).")


def solution_relations(train_settings: TrainSettings, imp_settings: IMPSettings, imp: Sequence[IMPResult],
                       data: Dataset, seeds: Sequence[int], round_: int,
                       store: Store) -> dict[str, list[dict[str, Any]]]:
    """For each seed: how the IMP ticket of round ``round_`` and the same mask trained from
    fresh weights (its ``reinit`` control, trained again here and stored as
    ``"reinit_twins"``: the IMP store keeps no control's weights) relate to the trained
    dense network IMP started from (``lmc.solution_relation``: relative distance and error
    barrier). ``{"IMP ticket": [...], "same mask, fresh weights": [...]}``, seeds in order."""
    members = [(model_for(res.settings.train, data, stream="reinit").state_dict(), res.rounds[round_ - 1].mask, 0, [],
                res.settings.train) for res in imp]
    twins = store.get_or_compute("reinit_twins", {"train": train_settings, "seeds": list(seeds), "round": round_,
                                                  "imp": imp_settings.store_key()},
                                 lambda: [run.to_dict() for run in train_members(members, data)])
    model = model_for(train_settings, data)
    out: dict[str, list[dict[str, Any]]] = {name: [] for name in RELATIONS}
    for res, twin in zip(imp, twins):
        dense_final = res.dense.final_state
        out[RELATIONS[0]].append(solution_relation(model, res.rounds[round_ - 1].ticket.final_state, dense_final, data))
        out[RELATIONS[1]].append(solution_relation(model, twin["final_state"], dense_final, data))
    return out


def barriers(relation: Mapping[str, Sequence[Mapping[str, Any]]], name: str) -> np.ndarray:
    return np.array([r["barrier"] for r in relation[name]])


def relation_table(relation: Mapping[str, Sequence[Mapping[str, Any]]]) -> str:
    rows = ["| network | distance to the dense solution (relative) | error barrier to it |", "|---|---|---|"]
    rows += [f"| {name} | {spread([r['distance'] for r in rel])} | {spread([r['barrier'] for r in rel])} |"
             for name, rel in relation.items()]
    return "\n".join(rows)


def _stated(claim: Claim, yes: str, no: str, unclear: str) -> str:
    return f"**{verdict_word(claim, yes, no, unclear)}** (*{claim.stated}*)"


def answer(ticket_beats_static: Claim, rigl_beats_static: Claim, rigl_near_ticket: Claim, ticket_closer: Claim,
           results: SparseResults, relation: Mapping[str, Sequence[Mapping[str, Any]]],
           costs: Mapping[str, Sequence[float]], iterations: int, model: str, dataset: str) -> str:
    """Notebook 07's closing answer at the sparsest density, worded from its claims' verdicts
    (in *italics*), with the RigL - SET difference described (no claim) and the costs."""
    p = results.percents[-1]
    b_ticket = barriers(relation, RELATIONS[0])
    untested = ("The results in which RigL catches up with dense training use 5x the iterations (the note on "
                "training length); this run gives RigL the ticket's 1x, so it does not test them.")
    rigl_set = results.acc("rigl") - results.acc("set")
    basin = direction_word(b_ticket - STABLE_BARRIER, "above", "below", "not clearly above")
    lines = [
        f"**The answer at this scale** ({model} on {dataset}; each claim's verdict in *italics*).",
        f"- The headline: at {p:.1f}% of the weights the IMP ticket is "
        + _stated(ticket_beats_static, "more accurate", "less accurate", "not clearly more accurate")
        + " than static sparse training: the ticket's mask, found by training the dense network, against a random "
          "ERK mask trained from the same initial weights.",
        "- RigL is " + _stated(rigl_beats_static, "more accurate", "less accurate", "not clearly more accurate")
        + " than static sparse training"
        + verdict_word(rigl_beats_static, ": moving the mask during training helps here.", ".", "."),
        "- RigL is " + _stated(rigl_near_ticket, "within 1 point", "more than 1 point short", "not clearly within 1 point")
        + f" of the IMP ticket, each trained for the same {iterations:,} iterations; the ticket's mask cost IMP "
          f"{costs[TICKET_LABEL][-1]:.2f} dense training runs, RigL's whole run {costs[label('rigl')][-1]:.3f} (section 4). "
        + verdict_word(rigl_near_ticket, "It does so here without longer training.", untested, untested),
        f"- The IMP ticket's error barrier to the dense solution is {100 * b_ticket.mean():.1f} points on average, that "
        f"of its mask on fresh weights {100 * barriers(relation, RELATIONS[1]).mean():.1f}: the ticket's is "
        + _stated(ticket_closer, "lower", "higher", "not clearly lower")
        + f". Seed by seed the ticket's barrier is {basin} notebook 05's {100 * STABLE_BARRIER:g}-point threshold "
          "(exact sign-flip test, no claim made)"
        + (": it ends closer to the dense solution than the control, not in its linearly connected region."
           if basin == "above" else "."),
        "- RigL against SET (a description, not a claim): the mean paired accuracy difference RigL - SET, and the "
        "seeds where RigL is ahead, " + "; ".join(f"at {pc:.1f}% {rigl_set[:, i].mean():+.3f} "
                                                   f"({int((rigl_set[:, i] > 0).sum())} of {len(results.seeds)} seeds)"
                                                   for i, pc in enumerate(results.percents)) + ".",
    ]
    reach = verdict_word(rigl_near_ticket, "reaches", "does not reach", "does not clearly reach")
    share = costs[label("rigl")][-1] / costs[TICKET_LABEL][-1]
    return ("\n".join(lines) + f"\n\nSo, on this network at {p:.1f}% of the weights and 1x training, RigL, sparse "
            f"from its first step, {reach} what the IMP ticket reaches (within 1 point), for {share:.1%} of the "
            "multiply-adds IMP spent to find and train the ticket.")


__all__ = ["PAI_COMPARED", "TICKET_LABEL", "RELATIONS", "label", "SparseResults", "sparse_study", "uniform_vs_erk",
           "solution_relations", "barriers", "relation_table", "answer"]
