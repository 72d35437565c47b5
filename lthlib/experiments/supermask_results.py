"""Notebook 04's reads of its runs: the results objects of masks without weight training.

``UntrainedResults``, ``CriterionResults``, ``SupermaskResults``, ``WidthResults`` and
``OverlapResults`` (built by ``untrained_study``, ``criterion_study``, ``overlap_study`` or
from a runner's keyed runs, ``lthlib.experiments.supermask_study``): their methods are the notebook's
queries and the values its sentences state; ``summary_values`` and ``plain_answer`` word
its closing summary from the verdicts.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from lthlib.masks import Mask, overlap
from lthlib.methods.supermask import CRITERION_LABELS, RESET_LABELS, mask_by_criterion
from lthlib.models.networks import prunable_parameters
from lthlib.report.claims import ALPHA, bold_verdict, direction_word, spread, verdict_word
from lthlib.experiments.supermask_study import (DEPTH_2L_HIDDEN, DEPTH_L_HIDDEN, ZHOU_CRITERIA, ZHOU_DENSITIES, ZHOU_STARTS,
                                    learn_supermasks, mean_round_density, train_criterion_masks,
                                    untrained_accuracy)
from lthlib.engine.training import model_for

if TYPE_CHECKING:
    from lthlib.core.store import Store
    from lthlib.data.datasets import Dataset
    from lthlib.engine.training import Run
    from lthlib.experiments.imp import IMPResult
    from lthlib.report.claims import Claim
    from lthlib.settings import TrainSettings


# Section 5's comparisons with an IMP ticket, in the order of the figure's legend.
OVERLAP_LABELS = {"large_init": "largest initial weights (large init)",
                  "edge_popup": "edge-popup on the ticket's initial weights",
                  "random": "random mask (control)",
                  "other_seed": "IMP ticket of another seed"}


def _early_stop_acc(runs: Mapping[Any, "Run"], keys: Iterable[Any]) -> np.ndarray:
    """Test accuracy at early stopping of ``runs[key]`` for each key, as an array."""
    return np.array([runs[k].at_early_stop("test_acc") for k in keys])


@dataclass
class UntrainedResults:
    """Test accuracy of *untrained* masked networks (section 1): ``acc[(criterion, start)]``
    is seeds x densities, in the order of ``seeds`` and ``densities``."""

    criteria: list[str]
    starts: list[str]
    densities: list[Any]  # fractions kept per layer, or per-layer maps (paper scale)
    seeds: list[int]
    acc: dict[tuple[str, str], np.ndarray]

    def at(self, criterion: str, start: str, density: Any) -> np.ndarray:
        """One value per seed at ``density`` (which must be one of ``densities``)."""
        return self.acc[(criterion, start)][:, self.densities.index(density)]

    def best(self, start: str, density: Any) -> str:
        """The criterion with the highest mean over seeds (the first in ``criteria`` on a tie)."""
        return max(self.criteria, key=lambda c: self.at(c, start, density).mean())

    def panels(self) -> dict[str, dict[str, np.ndarray]]:
        """``plots.criteria_panels``' input: a panel per start, a curve per criterion."""
        return {(f"kept weights at their {RESET_LABELS[r]}" if r == "init" else
                 f"kept weights at a {RESET_LABELS[r]}"): {CRITERION_LABELS[c]: self.acc[(c, r)] for c in self.criteria}
                for r in self.starts}

    def sign_effect(self, criterion: str, density: Any) -> np.ndarray:
        """Per seed: accuracy with the signed constant minus with the initial values."""
        return self.at(criterion, "signed_constant", density) - self.at(criterion, "init", density)

    def sign_effects(self, densities: Sequence[float]) -> dict[str, dict[str, np.ndarray]]:
        """``plots.paired_differences``' input: ``sign_effect`` per criterion and density."""
        return {CRITERION_LABELS[c]: {f"{d:.0%} kept": self.sign_effect(c, d) for d in densities}
                for c in self.criteria}

    def sign_verdicts(self, densities: Sequence[float], judged: bool = True) -> dict[str, Any]:
        """What the signed-constant sentence states: the criterion-density pairs the signed
        constant helped and hurt (each pair's exact sign-flip test at ``ALPHA``, uncorrected),
        how many it cannot tell, and the conclusion those groups support."""
        groups: dict[str, list[str]] = {"helped": [], "hurt": [], "cannot tell": []}
        for c in self.criteria:
            for d in densities:
                word = direction_word(self.sign_effect(c, d), "helped", "hurt", "cannot tell", judged=judged)
                groups[word].append(f"{CRITERION_LABELS[c]} at {d:.0%}")
        if groups["helped"] and groups["hurt"]:
            conclusion = ("So the initial magnitudes are not neutral before training; dropping them helps some masks "
                          "and hurts others, and the sign alone does not tell how an untrained masked network will do.")
        elif groups["hurt"]:
            conclusion = ("So the signed constant never helped here, and for some masks it lost accuracy; before "
                          "training, the initial magnitudes carry something the sign does not.")
        elif groups["helped"]:
            conclusion = "So the signed constant never hurt here, and for some masks it helped."
        else:
            conclusion = "This run cannot tell the signed constant from the initial values for any mask."
        tested = len(self.criteria) * len(densities)
        if tested > 1 and (groups["helped"] or groups["hurt"]):
            conclusion += (f" (Each of the {tested} pairs is tested alone at {ALPHA:.0%} on each side, so a pair or "
                           "two can come out either way by chance; a single pair is weak evidence.)")
        return {"helped": "; ".join(groups["helped"]) or "none", "hurt": "; ".join(groups["hurt"]) or "none",
                "n_unclear": len(groups["cannot tell"]), "n": len(self.criteria) * len(densities),
                "conclusion": conclusion}

    def peak(self, start: str) -> str:
        """The criterion and density (below 100%) with the highest mean over seeds, and its
        mean (min-max): what the figure's highest point is, read off the run."""
        grid = [(c, d) for c in self.criteria for d in self.densities if isinstance(d, float) and d < 1.0]
        if not grid:
            return "none (no density below 100%)"
        c, d = max(grid, key=lambda cd: self.at(cd[0], start, cd[1]).mean())
        return f"*{CRITERION_LABELS[c]}* at {d:.0%} ({spread(self.at(c, start, d))})"

    def claim_values(self, density: float, chance: float, beats_random: "Claim", above_chance: "Claim",
                     dense_acc: Sequence[float], judged: bool = True) -> dict[str, Any]:
        """What section 1's sentence states at the claims' ``density``: the criterion with
        the highest mean per start, large-final-same-sign against the random mask, the two
        verdicts, and the highest point of each panel over all densities."""
        random_init = self.at("random", "init", density)
        best = {r: self.best(r, density) for r in ("init", "signed_constant")}
        return dict(chance=chance, d=density, n=len(self.seeds),
                    peak0=self.peak("init"), peak1=self.peak("signed_constant"),
                    b0=CRITERION_LABELS[best["init"]], a0=spread(self.at(best["init"], "init", density)),
                    b1=CRITERION_LABELS[best["signed_constant"]],
                    a1=spread(self.at(best["signed_constant"], "signed_constant", density)),
                    lfss=spread(self.at("large_final_same_sign", "init", density)), rnd=spread(random_init),
                    v1=bold_verdict(beats_random), v2=bold_verdict(above_chance),
                    rnd_word=direction_word(random_init - chance, "above", "below", "indistinguishable from",
                                            judged=judged),
                    dense=spread(dense_acc))


def untrained_study(settings: "TrainSettings", data: "Dataset", dense: Mapping[int, "Run"], seeds: Sequence[int],
                    criteria: Sequence[str] = ZHOU_CRITERIA, starts: Sequence[str] = ZHOU_STARTS,
                    densities: Sequence[Any] = ZHOU_DENSITIES) -> UntrainedResults:
    """``untrained_accuracy`` of every criterion, start, seed and density, each mask scored
    from ``dense[seed]`` (its weights at iteration 0 and at the end). Nothing is trained."""
    seeds, densities = [int(s) for s in seeds], list(densities)
    acc = {(c, r): np.array([[untrained_accuracy(settings.replace(seed=s), data, dense[s].weights_at[0],
                                                 dense[s].final_state, c, r, d) for d in densities]
                             for s in seeds])
           for r in starts for c in criteria}
    return UntrainedResults(list(criteria), list(starts), densities, seeds, acc)


@dataclass
class CriterionResults:
    """Masks by a criterion, then training (section 2): ``runs[(criterion, reset, seed)]``."""

    runs: dict[tuple[str, str, int], "Run"]
    seeds: list[int]

    def acc(self, criterion: str, reset: str) -> np.ndarray:
        """Test accuracy at early stopping, one value per seed."""
        return _early_stop_acc(self.runs, [(criterion, reset, s) for s in self.seeds])

    def claim_values(self, reinit: "Claim", signs: "Claim", judged: bool = True) -> dict[str, Any]:
        """What section 2's sentence states: the large-final mask from each start, the two
        verdicts (and why "signs suffice" is not confirmed when it is not), the random mask."""
        random_gain = self.acc("random", "init") - self.acc("random", "reinit")
        disagree = ("" if signs.verdict in ("holds", "not judged") else
                    f" (mean difference {signs.mean:+.3f}; with {len(self.seeds)} seeds the test cannot show that "
                    "the signed constant loses less than one point, so this run does not confirm the paper here)"
                    if signs.verdict == "not shown" else " (this run disagrees with the paper here)")
        return dict(init=spread(self.acc("large_final", "init")), sc=spread(self.acc("large_final", "signed_constant")),
                    reinit=spread(self.acc("large_final", "reinit")), n=len(self.seeds),
                    v_reinit=bold_verdict(reinit), v_signs=bold_verdict(signs), disagree=disagree,
                    r_init=spread(self.acc("random", "init")), r_reinit=spread(self.acc("random", "reinit")),
                    r_word=direction_word(random_gain, "did better", "did worse",
                                          "made no difference this run can detect", judged=judged))


def criterion_study(settings: "TrainSettings", data: "Dataset", dense_runs: "Sequence[Run]",
                    resets_by_criterion: Mapping[str, Sequence[str]], density: float,
                    store: "Store | None" = None) -> CriterionResults:
    """``train_criterion_masks`` for each ``{criterion: [reset, ...]}``, one call (and so one
    set of population passes) per criterion, as the store holds them."""
    runs: dict[tuple[str, str, int], Run] = {}
    for c, resets in resets_by_criterion.items():
        runs |= train_criterion_masks(settings, data, dense_runs, [c], resets, density, store)
    return CriterionResults(runs, [int(d.settings["seed"]) for d in dense_runs])


@dataclass
class SupermaskResults:
    """Learned supermasks (``learn_supermasks``): ``runs[(method, density, seed)]``."""

    runs: dict[tuple[str, float, int], "Run"]
    seeds: list[int]

    def acc(self, method: str, density: float) -> np.ndarray:
        """Test accuracy at early stopping, one value per seed."""
        return _early_stop_acc(self.runs, [(method, density, s) for s in self.seeds])

    def final_density(self, method: str, density: float) -> np.ndarray:
        """The fraction of weights the learned mask keeps, one value per seed (a Bernoulli
        mask's ``density`` is where it started)."""
        return np.array([Mask(self.runs[(method, density, s)].mask).density() for s in self.seeds])

    def bars(self, ticket_acc: Mapping[int, np.ndarray], densities: Mapping[int, float],
             bernoulli_start: float = 0.5) -> dict[str, dict[str, np.ndarray]]:
        """``plots.grouped_bars``' input for section 3: at each IMP round's density the
        ticket (``ticket_acc[round]``) beside edge-popup, then the Bernoulli masks, labelled
        with where they started and the mean density they ended at."""
        bars = {f"{d:.0%} of weights kept": {"IMP ticket (weights trained)": ticket_acc[r],
                                             "edge-popup (weights frozen at random)": self.acc("edge_popup", d)}
                for r, d in densities.items()}
        end = self.final_density("bernoulli", bernoulli_start).mean()
        bars[f"Bernoulli mask\n(started at {bernoulli_start:.0%},\nended at {end:.0%})"] = {
            "Bernoulli (weights frozen at random)": self.acc("bernoulli", bernoulli_start)}
        return bars

    def claim_values(self, above_chance: "Claim", ticket_beats: "Claim", ticket_acc: np.ndarray, density: float,
                     chance: float, bernoulli_start: float = 0.5, judged: bool = True) -> dict[str, Any]:
        """What section 3's sentence states: edge-popup at ``density`` against chance, the
        IMP ticket of the same density (``ticket_acc``, one value per seed), the two verdicts,
        and where the Bernoulli masks started and ended."""
        popup, end = self.acc("edge_popup", density), self.final_density("bernoulli", bernoulli_start)
        return dict(ep=spread(popup), d=density, chance=chance, v_popup=bold_verdict(above_chance),
                    training=verdict_word(above_chance, " Choosing which weights to keep is itself a kind of "
                                                        "training (Zhou et al.'s abstract: \"masking behaves like "
                                                        "training\").", "", ""),
                    tk=spread(ticket_acc), v_ticket=bold_verdict(ticket_beats), b0=bernoulli_start,
                    bd=spread(end, ".0%"), ba=spread(self.acc("bernoulli", bernoulli_start)),
                    b_word=direction_word(end - bernoulli_start, "rose", "fell",
                                          "did not move in a way this run can detect", judged=judged))


def dense_accuracy(dense: Mapping[int, "Run"], seeds: Iterable[int]) -> np.ndarray:
    """Test accuracy at early stopping of the dense run of each of ``seeds`` (``dense_by_seed``)."""
    return _early_stop_acc(dense, seeds)


def ticket_accuracy(imp: Mapping[int, "IMPResult"], rounds: Iterable[int]) -> dict[int, np.ndarray]:
    """``{round: test accuracy of each seed's IMP ticket}`` (seeds in the order of ``imp``)."""
    return {r: np.array([res.metric("ticket")[r] for res in imp.values()]) for r in rounds}


@dataclass
class WidthResults:
    """The width study (``strong_ticket_study``): ``runs[("trained" | "edge_popup", hidden
    layers, width, seed)]``."""

    runs: dict[tuple[str, int, Any, int], "Run"]
    widths: list[Any]
    seeds: list[int]

    def acc(self, method: str, hidden: int) -> np.ndarray:
        """Test accuracy at early stopping, seeds x widths."""
        return np.array([_early_stop_acc(self.runs, [(method, hidden, w, s) for w in self.widths])
                         for s in self.seeds])

    def claim_values(self, grows: "Claim", narrows: "Claim", matches: "Claim", malach: "Claim",
                     depth_l_control: "Claim", judged: bool = True) -> dict[str, Any]:
        """What section 4's sentence states: the table of mean accuracies per width, the gap
        at the narrowest and widest, the verdicts, and the notes that depend on them."""
        widths = self.widths
        trained, popup, popup_2l = (self.acc("trained", DEPTH_L_HIDDEN), self.acc("edge_popup", DEPTH_L_HIDDEN),
                                    self.acc("edge_popup", DEPTH_2L_HIDDEN))
        gap = trained - popup

        def row(values: np.ndarray) -> str:
            return " | ".join(f"{v:.3f}" for v in values.mean(0))

        return dict(
            widths=", ".join(map(str, widths)), n=len(self.seeds),
            header=" | ".join(f"width {w}" for w in widths), rule="---|" * len(widths),
            t=row(trained), p=row(popup), p2=row(popup_2l),
            v_width=bold_verdict(grows), ratio=widths[-1] // widths[0],
            g0=gap[:, 0].mean(), g1=gap[:, -1].mean(), w0=widths[0], w1=widths[-1],
            v_gap=bold_verdict(narrows), v_match=bold_verdict(matches),
            disagree="" if matches.verdict in ("holds", "not judged") else
            " Here this run does not reproduce the paper's large-scale result: at these widths edge-popup does not "
            "find a subnetwork of random weights as good as training the same network."
            if matches.verdict == "contradicted" and not matches.fragile else
            " Whether edge-popup comes within one point of training at these widths, this run cannot tell.",
            p2w=spread(popup_2l[:, -1]), t0=spread(trained[:, 0]), p1w=spread(popup[:, -1]),
            v_malach=bold_verdict(malach),
            depth_note=(" The depth-L network of the same width passes the same test (the diagnostic row): here "
                        "width alone was enough for this test, so this run cannot show what the doubled depth of "
                        "Malach et al.'s construction adds."
                        if depth_l_control.verdict == "holds" and malach.verdict == "holds" else ""),
            deep_word=direction_word(popup_2l[:, -1] - popup[:, -1], "better", "worse",
                                     "neither clearly better nor worse", judged=judged))


def excess_iou(a: Mask, b: Mask, layer: str = "overall") -> float:
    """IoU of two masks minus the IoU two random masks of the same kept counts share by
    chance (``masks.overlap``), in ``layer`` or over all layers: 0 is "no more alike than
    random masks"."""
    o = overlap(a, b)[layer]
    return o["iou"] - o["chance_iou"]


@dataclass
class OverlapResults:
    """Section 5: IMP tickets (``tickets[(seed, round)]``) against the masks other methods
    pick at the same densities. ``popup`` holds the edge-popup supermasks learned on each
    ticket's own initial weights (``learn_supermasks(weights="init")``) at
    ``round_density[round]``; ``dense[seed]`` the dense runs the criteria score from."""

    seeds: list[int]
    rounds: list[int]
    round_density: dict[int, float]
    tickets: dict[tuple[int, int], Mask]
    dense: Mapping[int, "Run"]
    layers: list[str]
    popup: dict[tuple[str, float, int], "Run"]

    def kinds(self) -> list[str]:
        """The comparisons made (``OVERLAP_LABELS``' keys): another seed's ticket only when
        there is another seed."""
        return [k for k in OVERLAP_LABELS if k != "other_seed" or len(self.seeds) > 1]

    def by_criterion(self, criterion: str, seed: int, round_: int) -> Mask:
        """A mask by ``criterion`` at the per-layer densities of the ticket of (seed, round)."""
        dense = self.dense[seed]
        return mask_by_criterion(criterion, dense.weights_at[0], dense.final_state, self.layers,
                                 self.tickets[(seed, round_)].layer_density(), seed=seed)

    def mask(self, kind: str, seed: int, round_: int) -> Mask:
        """The mask of comparison ``kind`` (an ``OVERLAP_LABELS`` key) for the ticket of
        (seed, round); ``"other_seed"`` is the next seed's ticket (cyclically)."""
        if kind in ("large_init", "random"):
            return self.by_criterion(kind, seed, round_)
        if kind == "edge_popup":
            return Mask(self.popup[("edge_popup", self.round_density[round_], seed)].mask)
        if kind == "other_seed":
            return self.tickets[(self.seeds[(self.seeds.index(seed) + 1) % len(self.seeds)], round_)]
        raise ValueError(f"kind={kind!r}: choose one of {self.kinds()}")

    def excess(self) -> dict[str, np.ndarray]:
        """``{label: seeds x rounds}`` of ``excess_iou`` (overall) of each ticket against
        each comparison, labelled by ``OVERLAP_LABELS``."""
        return {OVERLAP_LABELS[k]: np.array([[excess_iou(self.tickets[(s, r)], self.mask(k, s, r)) for r in self.rounds]
                                             for s in self.seeds])
                for k in self.kinds()}

    def excess_at(self, kind: str, round_: int, layer: str = "overall") -> np.ndarray:
        """``excess_iou`` of each seed's ticket at ``round_`` against ``kind``, in ``layer``."""
        return np.array([excess_iou(self.tickets[(s, round_)], self.mask(kind, s, round_), layer=layer)
                         for s in self.seeds])

    def claim_values(self, excess: Mapping[str, np.ndarray], large_init: "Claim", popup_overlap: "Claim",
                     judged: bool = True) -> dict[str, Any]:
        """What section 5's sentence states at the sparsest round: a line per comparison of
        ``excess`` (``self.excess()``) with the word its own test gives (each at ``ALPHA`` on
        each side, uncorrected), the two verdicts, and what the random control says about
        the measure (it is independent of the ticket, so a control off zero is chance)."""
        rows, words = [], {}
        for name, v in excess.items():
            words[name] = direction_word(v[:, -1], "above", "below", "", judged=judged)
            rows.append(f"- {name}: {spread(v[:, -1])}, "
                        + (f"{words[name]} chance" if words[name] else "not distinguishable from chance"))
        control = words.get(OVERLAP_LABELS["random"], "")
        note = ("The random mask, independent of the ticket by construction, is not distinguishable from chance: "
                "the measure reads zero where it should." if not control else
                f"The random mask is independent of the ticket by construction, yet its own test puts it {control} "
                f"chance: each line is tested alone at {ALPHA:.0%} on each side, uncorrected, so with {len(rows)} "
                "lines one such result can come by chance. Read the other lines against the control's size, not "
                "only against zero.")
        return dict(d=self.round_density[self.rounds[-1]], n=len(self.seeds), rows="\n".join(rows),
                    v1=bold_verdict(large_init), v2=bold_verdict(popup_overlap), control=note,
                    predictable=verdict_word(large_init, " (part of an IMP ticket is predictable from the magnitudes "
                                                         "at initialisation)", "", ""))

    def first_layer_values(self, judged: bool = True) -> dict[str, Any]:
        """What the per-layer sentence states: the first layer's IoU minus chance between
        each seed's ticket at the sparsest round and the next seed's (cyclically), and the
        word its test gives. Each ticket is in two of these pairs, so they are not
        independent and the test is only a guide."""
        first = self.excess_at("other_seed", self.rounds[-1], layer=self.layers[0])
        return dict(x=spread(first), n=len(self.seeds),
                    word=direction_word(first, "more than chance, so part of what IMP keeps there is set by the data",
                                        "less than chance", "not distinguishable from chance", judged=judged))


def overlap_study(settings: "TrainSettings", data: "Dataset", imp: Mapping[int, "IMPResult"],
                  dense: Mapping[int, "Run"], store: "Store | None" = None) -> OverlapResults:
    """Every round of the IMP tickets ``imp`` (``{seed: IMPResult}``), and an edge-popup
    supermask learned on each seed's own initial weights at each round's mean density."""
    seeds = [int(s) for s in imp]
    rounds = list(range(1, len(imp[seeds[0]].rounds) + 1))
    round_density = mean_round_density(imp, rounds)
    popup = learn_supermasks(settings, data, seeds, {"edge_popup": list(round_density.values())}, store,
                             weights="init")
    tickets = {(s, r): imp[s].rounds[r - 1].mask for s in seeds for r in rounds}
    layers = list(prunable_parameters(model_for(settings, data)))
    return OverlapResults(seeds, rounds, round_density, tickets, dense, layers, popup)


def summary_values(conclusion: str, *, same_sign: "Claim", reinit: "Claim", signs: "Claim", popup: "Claim",
                   ticket: "Claim", width: "Claim", gap: "Claim", match: "Claim", malach: "Claim",
                   large_init: "Claim", popup_overlap: "Claim") -> dict[str, Any]:
    """What notebook 04's summary states: a word per claim that follows its verdict
    (``s1``...``s11``, no ``s9``), each verdict in bold (``v1``...``v11``) and the
    signed-constant conclusion without its leading "So "."""
    words = dict(
        s1=verdict_word(same_sign, "beat", "did worse than", "was not shown to beat"),
        s2=verdict_word(reinit, "trained better", "trained worse", "was not shown to train better"),
        s3=verdict_word(signs, "matched", "did not match", "was not shown to match"),
        s4=verdict_word(popup, "were", "were not", "were not shown to be"),
        s5=verdict_word(ticket, "beat", "lost to", "was not shown to beat"),
        s6=verdict_word(width, "improved", "got worse", "was not shown to improve"),
        s7=verdict_word(gap, "narrowed", "widened", "was not shown to narrow"),
        s8=verdict_word(match, "closed", "stayed open", "was not shown to close"),
        s10=verdict_word(large_init, "overlapped more than chance with", "overlapped less than chance with",
                         "were not shown to overlap more than chance with"),
        s11=verdict_word(popup_overlap, "more than chance with", "less than chance with",
                         "not shown to be above chance with"))
    ordered = [same_sign, reinit, signs, popup, ticket, width, gap, match, malach, large_init, popup_overlap]
    return {"conclusion": conclusion[3:] if conclusion.startswith("So ") else conclusion, **words,
            **{f"v{k}": bold_verdict(c) for k, c in enumerate(ordered, start=1)}}


def plain_answer(*, popup: "Claim", same_sign: "Claim", ticket: "Claim", match: "Claim", malach: "Claim") -> str:
    """Notebook 04's closing answer to its question, "can a mask alone do the work?",
    rendered from the verdicts of the claims that answer it: masks on untrained weights far
    above chance (``popup``: edge-popup more than 20 points above chance; ``same_sign``: a
    large-final same-sign mask beats a random one, untrained), and whether a mask on random
    weights did as well as trained weights (``ticket``: an IMP ticket beats edge-popup at
    the dense network's width; ``match``: edge-popup within one point of the same network
    trained at the widest; ``malach``: a wide random network hides a subnetwork as accurate
    as a narrow trained one)."""
    works = verdict_word(popup, "yes", "no", "unclear")
    as_good = verdict_word(match, "yes", "no", "unclear")
    opening = {("yes", "yes"): "Yes, for the widest networks here.", ("yes", "no"): "Partly.",
               ("yes", "unclear"): "Partly, as far as this run can tell."}.get(
        (works, as_good), "Not shown at this scale.")
    return " ".join([
        f"**Can a mask alone do the work?** {opening}",
        "A mask learned on weights that are never trained "
        + verdict_word(popup, "made the network more than 20 points better than chance",
                       "did not make the network 20 points better than chance",
                       "was not shown to make the network 20 points better than chance")
        + f" (claim: {bold_verdict(popup)}), and a mask chosen from a trained network's weights "
        + verdict_word(same_sign, "beat a random mask on the untrained weights",
                       "did worse than a random mask on the untrained weights",
                       "was not shown to beat a random mask on the untrained weights")
        + f" (claim: {bold_verdict(same_sign)}).",
        "Whether it does all the work: at the dense network's width the IMP ticket, whose weights are trained, "
        + verdict_word(ticket, "beat edge-popup", "did not beat edge-popup", "was not shown to beat edge-popup")
        + f" (claim: {bold_verdict(ticket)}); at the widest network, edge-popup "
        + verdict_word(match, "came within one point of training the same network",
                       "stayed more than one point below training the same network",
                       "was not shown to come within one point of training the same network")
        + f" (Ramanujan et al.'s claim that it comes within one point: {bold_verdict(match)}); and a random "
        "network wider than a small trained one "
        + verdict_word(malach, "hid a subnetwork as accurate as it", "did not yield a subnetwork as accurate as it",
                       "was not shown to hide a subnetwork as accurate as it")
        + f" (claim: {bold_verdict(malach)}); Malach et al.'s theorem says a wide enough one does.",
    ])
