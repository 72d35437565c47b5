"""Notebook 10's closing: section 5's "what carries over" rows (``carry_over_rows``, worded
from the verdicts) and the chapter's answer (``answer``), read from the studies of
``lthlib.experiments.transformer_results``.
"""
from __future__ import annotations

from collections.abc import Sequence

from lthlib.experiments.imp import kind_label
from lthlib.experiments.transformer_results import OneShotStudy, TicketStudy
from lthlib.report.claims import Claim, spread, verdict_word


def _said(claim: Claim) -> str:
    return verdict_word(claim, "holds here", "does not hold here", "not shown here")


def carry_over_rows(study: TicketStudy, shots: OneShotStudy, *, tickets: Sequence[Claim], speed: Sequence[Claim],
                    rewinding: Claim, one_shot: Sequence[Claim]) -> list[tuple[str, str, str]]:
    """Section 5's rows (for ``carry_over_markdown``): each finding of notebooks 02-06, what
    this run says about it and its reading, worded from the verdicts; then what was not
    tested and where the scale stops the comparison."""
    e, T, k, blocks, F = study.experiment, study.T, study.k, study.experiment.blocks, shots.F
    at_chance = study.at_chance()
    stays = [" (the control stays at chance level: below twice chance at early stopping, in every seed)"
             if kind_label(c) in at_chance else "" for c in study.controls]
    return [
        ("02: a ticket beats its random reinitialisation", f"{_said(tickets[0])} at {study.claim_density:.0f}% of "
         "weights", verdict_word(tickets[0], f"the initial values matter within {T:,} iterations{stays[0]}, as for "
                                 "MLPs", "the mask alone explains the ticket", "the seeds cannot tell")),
        ("02: a ticket beats random pruning", f"{_said(tickets[1])}",
         verdict_word(tickets[1], f"which weights are kept matters within {T:,} iterations{stays[1]}, not only how "
                      "many", "the density alone explains it", "the seeds cannot tell")),
        ("02: tickets learn faster than the dense network", f"{_said(speed[0])} (iterations to "
         f"{e.threshold:.0%} validation accuracy, a diagnostic row)",
         verdict_word(speed[0], "a speed-up in a network that does not grok, with a ticket rewound to k; not a "
                      "test of Minegishi et al.'s grokking tickets", "the dense network is faster",
                      "the seeds cannot tell")),
        ("03: deeper networks need rewinding to k > 0", f"k = {k} better than k = 0: {_said(rewinding)}",
         verdict_word(rewinding, f"rewinding helps even with {blocks}", "the reset ticket is better",
                      f"no difference shown at this density with {blocks}, as for notebook 02's MLP")),
        ("06: pruning without IMP's rounds (at initialisation in 06, once after training here) falls short of IMP",
         f"{_said(one_shot[1])} against one-shot magnitude pruning with a {F}-iteration fine-tune, at "
         f"{100 * shots.mag25.density:.0f}%",
         verdict_word(one_shot[1], f"IMP ({e.imp.rounds} rounds, each retrained for {T - k:,} iterations) beats one "
                      f"prune with a {F}-iteration fine-tune: rounds and retraining budget differ together, so this "
                      "does not say which of the two matters", "a short fine-tune recovers what IMP finds",
                      "the seeds cannot tell")),
        ("04, 05: supermasks, linear mode connectivity", "not tested", "the same code runs them (`lthlib.methods.supermask`, "
         "`lthlib.experiments.lmc`); they did not fit this chapter's budget"),
        ("where the scale stops the comparison", f"{blocks}, one small algorithmic task, no pre-training, a "
         f"{T:,}-iteration budget", "Chen et al.'s tickets start from pre-trained weights and Sun et al.'s models have "
         "billions of weights and large-magnitude features; controls that fail here might learn with more iterations"),
    ]


def answer(study: TicketStudy, shots: OneShotStudy, *, tickets: Sequence[Claim], matching: Claim,
           speed: Sequence[Claim], one_shot: Sequence[Claim]) -> str:
    """The chapter's closing answer, every question answered by its claim's verdict in
    bold, naming the network measured and the densities and budget it was measured at."""
    return (
        "**The answer, in this run.** At {d:.0f}% of the weights the IMP ticket of a transformer with {blocks} beats "
        "random reinitialisation: **{a}**; random pruning: **{b}** (headline). It is matching (within {pts:.0f} point, "
        "this notebook's threshold; a diagnostic): **{m}**. Within {T:,} iterations (diagnostics) it reaches {thr:.0%} "
        "validation accuracy sooner than the dense network: **{s}**; sooner than random reinitialisation: **{s1}**; "
        "sooner than random pruning: **{s2}** (section 3 says why the rows against the controls are not headline). "
        "One-shot magnitude pruning falls short of the ticket without retraining at {d50:.0f}%: **{o50}**; and with a "
        "short fine-tune at {d25:.0f}%: **{o}**. The 2:4 pattern, after the fine-tune, is less accurate than "
        "unstructured magnitude pruning at {d50:.0f}%: **{p24}** (2:4 {m24f}, unstructured {mf}) (headline). Wanda "
        "beats magnitude pruning without retraining (the paper's claim): **{w}**."
    ).format(d=study.claim_density, blocks=study.experiment.blocks, a=verdict_word(tickets[0]),
             b=verdict_word(tickets[1]), pts=-100 * study.experiment.matching_margin, m=verdict_word(matching),
             T=study.T, thr=study.experiment.threshold, s=verdict_word(speed[0]), s1=verdict_word(speed[1]),
             s2=verdict_word(speed[2]), d50=100 * shots.mag50.density, d25=100 * shots.mag25.density,
             o50=verdict_word(one_shot[0]), o=verdict_word(one_shot[1]), w=verdict_word(one_shot[3]),
             p24=verdict_word(one_shot[2]), m24f=spread(shots.finetuned[shots.mag24]),
             mf=spread(shots.finetuned[shots.mag50]))
