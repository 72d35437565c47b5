"""Notebook 08's ways to a small network, at equal measured speed and cost: section 5 times
the IMP ticket (in a sparse format and masked), structured IMP and a small dense network
of the ticket's size against the dense network (``route_speedups``, ``size_table``);
section 6 puts every route -- those, one-shot pruning + fine-tuning, RigL at 1x and 5x
training, the best PaI method -- on the axes of measured inference speed, training cost
and accuracy (``Route``, ``routes_for``, ``time_routes``, ``cost_routes``, ``route_table``,
``route_readings``, ``practical_words``).

Why its own module: ``speed_study`` reads the formats' timings and the large layer against
their bounds (does speed exist?); this one answers the practical half (is a ticket the
best way to a fast network?), and ``speed_study.conclusion`` words both.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from lthlib.core.store import Store
from lthlib.engine.training import Run
from lthlib.experiments.imp import IMPResult, IMPSettings
from lthlib.experiments.sparse_bounds import Machine, network_bound_s
from lthlib.experiments.sparse_exec import (FORMAT_LABELS, denormals_flushed, inference_fn, masked_model, sparse_model,
                                           structured_model, time_calls, train_step_fn)
from lthlib.masks import Mask
from lthlib.methods.pruning import magnitude_prune_like
from lthlib.methods.sparse_training import SparseTrainingSettings, training_flops
from lthlib.report.claims import spread


# --- section 5: the ticket, structured IMP and a small dense network, timed ------------------

ROUTES = ("ticket", "masked", "structured", "small")


def route_speedups(model: nn.Module, ticket: Mask, structured: Mask, small: nn.Module,
                   batch_sizes: Sequence[int], input_shape: Sequence[int], *, repeats: int = 20,
                   min_time: float = 1e-3, threads: int | None = None) -> dict[int, dict[str, tuple[float, str]]]:
    """Inference speed-up over ``model`` (dense, on the CPU) of each way to be small, per
    batch size: ``{batch: {route: (speed-up, how it runs)}}``. Routes (``ROUTES``): the
    ``ticket`` mask in the faster of CSR and COO (its label says which), the ticket
    ``masked`` (as trained), ``structured`` (``structured_model`` of that neuron mask) and
    ``small``, a dense network of the ticket's size. All forms of one batch size are timed
    side by side (``time_calls``), each speed-up the ratio of medians, denormals flushed.
    Dense is timed twice in the same call and the faster median is the baseline (a
    dense median inflated by one stall inflates every speed-up; measured here: 8x once, on
    a shared 2-core machine); ``"dense_ms"``: (that baseline in ms, both medians in words)."""
    with denormals_flushed(), torch.inference_mode():
        forms = {"dense": model, "csr": sparse_model(model, ticket, "csr"), "coo": sparse_model(model, ticket, "coo"),
                 "masked": masked_model(model, ticket), "structured": structured_model(model, structured),
                 "small": small, "dense again": model}
        out = {}
        for b in batch_sizes:
            t = time_calls({k: inference_fn(m, b, input_shape) for k, m in forms.items()},
                           repeats=repeats, min_time=min_time, threads=threads)
            base = min(t["dense"].median_s, t["dense again"].median_s)
            up = {k: base / v.median_s for k, v in t.items()}
            layout = max(("csr", "coo"), key=up.get)
            out[b] = {"ticket": (up[layout], FORMAT_LABELS[layout]), "masked": (up["masked"], ""),
                      "structured": (up["structured"], ""), "small": (up["small"], ""),
                      "dense_ms": (1e3 * base, f"{1e3 * t['dense'].median_s:.3g} and "
                                               f"{1e3 * t['dense again'].median_s:.3g} ms")}
    return out


SIZE_ROUTES = {"ticket": "IMP ticket (sparse format)", "masked": "IMP ticket (masked, as trained)",
               "structured": "structured IMP", "small": "small dense network"}


def size_table(fast: Mapping[tuple[int, int], Mapping[str, tuple[float, str]]], accuracy: Mapping[str, np.ndarray],
               percents: Sequence[float], batch_sizes: Sequence[int]) -> str:
    """Notebook 08's section-5 table: a row per density and way to be small (``SIZE_ROUTES``),
    its accuracy (``accuracy[key]``: seeds x densities; the masked ticket reads the
    ticket's) and its speed-up per batch from ``fast[(batch, density index)]``
    (``route_speedups``' per-batch dicts), then dense's median (the baseline) per density."""
    rows = ["| weights | network | test accuracy (mean, min-max over seeds) | "
            + " | ".join(f"speed-up, batch {b}" for b in batch_sizes) + " |",
            "|---|---|---|" + "---|" * len(batch_sizes)]
    for i, p in enumerate(percents):
        for key, label in SIZE_ROUTES.items():
            a = np.asarray(accuracy["ticket" if key == "masked" else key])[:, i]
            cells = " | ".join(f"{fast[b, i][key][0]:.2f}x" + (f" ({fast[b, i][key][1]})" if fast[b, i][key][1]
                                                               else "") for b in batch_sizes)
            rows.append(f"| {p:.1f}% | {label} | {spread(a)} | {cells} |")
    base = "; ".join(f"{p:.1f}%: " + ", ".join(f"batch {b} {fast[b, i]['dense_ms'][1]}" for b in batch_sizes)
                     for i, p in enumerate(percents) if "dense_ms" in fast[batch_sizes[0], i])
    return "\n".join(rows) + (f"\n\nDense, timed twice beside the forms of each density (the faster is the "
                              f"baseline): {base}." if base else "")


def equal_speed_rivals(speeds: Mapping[str, Sequence[float]], accuracy: Mapping[str, np.ndarray], i: int,
                       ref_speed: float, noise: float = 1.0, reference: str = "ticket") -> dict[str, int | None]:
    """For the ``reference`` route at density index ``i`` running ``ref_speed``: per other
    route (``speeds[key]``: speed-up per density; ``accuracy[key]``: seeds x densities) the
    index of its most accurate density that runs at least ``ref_speed / noise`` (speeds
    within a factor ``noise``, the timing noise, count as equal), or None if none does."""
    out: dict[str, int | None] = {}
    for key, xs in speeds.items():
        if key != reference:
            acc = np.asarray(accuracy[key], dtype=float)
            ok = [j for j, x in enumerate(xs) if x >= ref_speed / noise]
            out[key] = max(ok, key=lambda j: acc[:, j].mean()) if ok else None
    return out


def _better(accuracy: Mapping[str, np.ndarray], key: str, j: int, ref: np.ndarray) -> bool:
    return float(np.asarray(accuracy[key], dtype=float)[:, j].mean()) > float(np.mean(ref))


def equal_speed_words(speeds: Mapping[str, Sequence[float]], accuracy: Mapping[str, np.ndarray],
                      percents: Sequence[float], batch: int, noise: float = 1.0,
                      reference: str = "ticket") -> str:
    """Section 5's reading at equal speed: for each density of the ``reference`` route, the
    most accurate point of every other route that runs at least as fast (within a factor
    ``noise``; ``equal_speed_rivals``), against the reference's own accuracy there. Means
    over seeds with min-max; descriptive, one timing of seed 0's networks."""
    ref_x = speeds[reference]
    ref_acc = np.asarray(accuracy[reference], dtype=float)
    parts = []
    for i, p in enumerate(percents):
        others = []
        for key, j in equal_speed_rivals(speeds, accuracy, i, ref_x[i], noise, reference).items():
            if j is None:
                others.append(f"no {SIZE_ROUTES[key]} timed is as fast")
                continue
            acc = np.asarray(accuracy[key], dtype=float)
            others.append(f"{SIZE_ROUTES[key]} at {percents[j]:.1f}% runs {speeds[key][j]:.2f}x at "
                          f"{spread(acc[:, j])}, " + ("more" if _better(accuracy, key, j, ref_acc[:, i]) else "less")
                          + " accurate")
        parts.append(f"At {p:.1f}% the ticket runs {ref_x[i]:.2f}x at {spread(ref_acc[:, i])}; " + "; ".join(others))
    within = f" (or within {noise - 1:.0%} of it)" if noise > 1 else ""
    return (f"**What to see, at equal speed** (batch {batch}; for each of the ticket's densities, the most accurate "
            f"point of each other route that runs at least as fast{within}). " + ". ".join(parts) + ". The "
            "accuracy claims below compare the routes at equal weight count; these lines compare them at equal "
            "speed, which is what the objection is about. Speeds are one timing of seed 0's networks (medians of "
            "the repeats, no band), so read them beside the noise band printed in section 2; section 6 times the "
            "sparsest networks again and says how far the two calls agree.")


def equal_speed_summary(speeds: Mapping[str, Sequence[float]], accuracy: Mapping[str, np.ndarray],
                        percents: Sequence[float], batch: int, noise: float, i: int, again: float | None = None,
                        reference: str = "ticket") -> tuple[str, bool]:
    """(sentence, found): at about the ``reference``'s speed at density index ``i`` (batch
    ``batch``, within ``noise``), which other routes of section 5, at any density timed, are
    more accurate (``equal_speed_rivals``), with seeds per route. ``again``: the reference's
    speed-up in another call (section 6): the reading is checked with both, and the sentence
    says whether it depends on which. ``found``: some route is more accurate with both."""
    ref_acc = np.asarray(accuracy[reference], dtype=float)[:, i]
    calls = [speeds[reference][i]] + ([again] if again is not None else [])
    found = [{k for k, j in equal_speed_rivals(speeds, accuracy, i, x, noise, reference).items()
              if j is not None and _better(accuracy, k, j, ref_acc)} for x in calls]
    both = set.intersection(*found)
    rivals = equal_speed_rivals(speeds, accuracy, i, min(calls), noise, reference)
    ticket = (f"the ticket at {percents[i]:.1f}% ({' and '.join(f'{x:.2f}x' for x in calls)}"
              + (" in sections 5 and 6" if again is not None else "") + f"; {spread(ref_acc)}, {len(ref_acc)} seeds)")
    if not set.union(*found):
        return (f"At about the ticket's batch-{batch} speed (within {noise - 1:.0%}), no route of section 5 at any "
                f"density timed is more accurate than {ticket}.", False)
    names = []
    for k in [k for k in speeds if k in set.union(*found)]:
        acc = np.asarray(accuracy[k], dtype=float)[:, rivals[k]]
        names.append(f"{SIZE_ROUTES[k]} at {percents[rivals[k]]:.1f}% ({speeds[k][rivals[k]]:.2f}x; {spread(acc)}, "
                     f"{len(acc)} seeds)")
    depends = ("" if again is None else " This holds with either call's timing of the ticket." if found[0] == found[1]
               else " This depends on which call's timing of the ticket is read (section 6 prints both).")
    return (f"At about the ticket's batch-{batch} speed (within {noise - 1:.0%}), section 5's "
            + " and ".join(names) + f" {'is' if len(names) == 1 else 'are'} more accurate than {ticket}: a larger "
            "network that runs plain dense code is as fast as the ticket in a sparse format, and more accurate."
            + depends, bool(both))


def timing_agreement(fast: Mapping[tuple[int, int], Mapping[str, tuple[float, str]]], i: int,
                     routes: Sequence[Route], noise: float) -> str:
    """Section 5 (``fast[(batch, i)]``) and section 6 (``routes``) time the same networks at
    density index ``i`` in two calls: both speed-ups of each (the ticket's fastest form,
    masked included, in both) and their ratio, and how many
    ratios fall outside the noise margin ``noise`` (so a reading resting on a smaller
    difference depends on the call)."""
    parts, out = [], 0
    for b in sorted(routes[0].speed):
        cells = []
        for r in routes:
            if r.name in ("ticket", "structured", "small") and (b, i) in fast:
                # section 6's ticket runs in its fastest form, masked included: compare like with like
                one = max(fast[b, i][k][0] for k in (("ticket", "masked") if r.name == "ticket" else (r.name,)))
                two = r.speed[b][0]
                out += not 1 / noise <= two / one <= noise
                cells.append(f"{ROUTE_LABELS[r.name]} {one:.2f}x and {two:.2f}x (ratio {two / one:.2f})")
        parts.append(f"batch {b}: " + ", ".join(cells))
    return ("**The same networks, two calls.** Section 5 and this section timed the ticket, structured IMP and the "
            "small dense network separately (section 5's speed-up, then this section's): " + "; ".join(parts)
            + f". {out} of these ratios fall outside the {noise - 1:.0%} margin"
            + (": between calls this machine's timings drift by more than the margin, so a reading that rests on a "
               "smaller difference depends on which call it is read from." if out else
               ": the two calls agree within the margin."))


# --- section 6: every route to a small network at equal measured cost ----------------------------------

# The routes notebook 08 compares (section 5), in the figure's order, with colours.
ROUTE_LABELS = {"dense": "dense network", "small": "small dense network", "structured": "structured IMP",
                "ticket": "IMP ticket", "one_shot": "one-shot prune + fine-tune", "rigl": "RigL (1x training)",
                "rigl_5x": "RigL (5x training)", "pai": "best PaI method"}
# Colours: the routes that run as a format take that format's colour (structured IMP is the
# structured form); the others take hues no format uses, so a colour means one thing in every figure.
ROUTE_COLORS = {"dense": "grey", "small": "olive", "structured": "C4", "ticket": "k", "one_shot": "goldenrod",
                "rigl": "C9", "rigl_5x": "teal", "pai": "navy"}


@dataclass
class Route:
    """One way to a network of the ticket's size: its accuracies (one per seed), the forms it
    could run in (``{format: module}``; the fastest is taken per batch), and its training as
    ``(iterations, mask or None, network[, sparse settings])`` pieces (None: dense; ``network``:
    "model" or "small"; RigL's settings add its dense-gradient updates to the multiply-adds).
    ``note``: how it was read or trained."""
    name: str
    accuracy: np.ndarray
    forms: dict[str, nn.Module]
    training: list[tuple]
    note: str = ""
    speed: dict[int, tuple[float, str]] = field(default_factory=dict)
    picked: dict[int, str] = field(default_factory=dict)
    seconds: float = math.nan
    macs: float = math.nan
    dense_ms: dict[int, tuple[float, float]] = field(default_factory=dict)


def sparse_forms(model: nn.Module, mask: Mask) -> dict[str, nn.Module]:
    """The forms a masked network can run in on a CPU: masked (dense + zeros), CSR, COO."""
    return {"masked": masked_model(model, mask), "csr": sparse_model(model, mask, "csr"),
            "coo": sparse_model(model, mask, "coo")}


def ticket_training(imp: IMPResult, rounds: int) -> list[tuple[int, Mask | None, str]]:
    """The trainings an IMP ticket of round ``rounds`` paid for: the dense run, then each
    round's retraining from the rewind iteration at its mask."""
    t = imp.settings.train.iterations
    return [(t, None, "model")] + [(t - imp.settings.rewind_iteration, imp.rounds[q].mask, "model")
                                   for q in range(rounds)]


def run_one_shot_finetune(imp_settings: IMPSettings, imp: Sequence[IMPResult], round_: int, data,
                          iterations: int, store: Store | None = None) -> list[Run]:
    """One-shot magnitude pruning of each seed's trained dense network to round ``round_``'s
    per-layer densities (``pruning.magnitude_prune_like``), then ``iterations`` steps of fine-tuning
    from the trained weights at the training settings' learning rate; read from the store
    (kind "route_finetune") or trained together as populations
    (``lthlib.engine.passes.stored_members``: the seeds are independent networks of one
    architecture) and stored without weights."""
    from lthlib.engine.passes import stored_members

    store = store if store is not None else Store(None)
    entries, members = [], []
    for res in imp:
        ts = res.settings.train.replace(iterations=int(iterations))
        mask = magnitude_prune_like(res.dense.final_state, res.rounds[round_ - 1].mask, imp_settings.scope,
                                    imp_settings.exclude)
        entries.append(("route_finetune", ts, {"dense": res.settings.train.digest(), "round": int(round_),
                                               "scope": imp_settings.scope}))
        members.append((res.dense.final_state, mask, 0, [], ts))
    return stored_members(store, entries, members, data, progress=False,
                          keep=lambda i, run, _: run.without_weights())


def time_routes(routes: Sequence[Route], dense: nn.Module, batch_sizes: Sequence[int], input_shape: Sequence[int],
                *, repeats: int = 15, min_time: float = 1e-3, threads: int | None = None) -> None:
    """Set each route's ``speed``: ``{batch: (inference speed-up over ``dense``, format)}``, its
    fastest form's, every form of every route timed side by side with dense per batch
    (``time_calls``), denormals flushed. The fastest form is picked on these same timings,
    so a route with several forms leans a little optimistic. Dense is timed twice in the same
    call (first and last) and the faster median is the baseline, as in ``route_speedups``;
    each route's ``dense_ms[b]`` keeps both medians (ms), so a slow baseline shows."""
    with denormals_flushed(), torch.inference_mode():
        for b in batch_sizes:
            fns = {("baseline", "dense"): inference_fn(dense, b, input_shape)}
            fns.update({(r.name, f): inference_fn(m, b, input_shape) for r in routes for f, m in r.forms.items()
                        if r.name != "dense"})
            fns["baseline", "again"] = inference_fn(dense, b, input_shape)
            t = time_calls(fns, repeats=repeats, min_time=min_time, threads=threads)
            both = (t["baseline", "dense"].median_s, t["baseline", "again"].median_s)
            base = min(both)
            for r in routes:
                r.dense_ms[b] = (1e3 * both[0], 1e3 * both[1])
                if r.name == "dense":  # the baseline itself
                    r.speed[b], r.picked[b] = (1.0, ""), next(iter(r.forms))
                    continue
                up = {f: base / t[r.name, f].median_s for f in r.forms}
                f = max(up, key=up.get)
                r.speed[b] = (up[f], "" if f in ("dense", "masked") else FORMAT_LABELS[f])
                r.picked[b] = f


def routes_for(trained: nn.Module, small: nn.Module, imp: IMPResult, round_: int, accuracy: Mapping[str, np.ndarray],
               masks: Mapping[str, Mask], structured: Mask, rigl: SparseTrainingSettings,
               notes: Mapping[str, str]) -> list[Route]:
    """Notebook 08's routes (``ROUTE_LABELS``; those in ``accuracy`` only) to a network of IMP
    round ``round_``'s size, each with its forms (built from ``trained``, the dense network,
    with seed 0's mask of that route from ``masks``: speed depends on where weights are
    kept, not on their values) and its training: dense one run; small dense one run of
    ``small``; the ticket and structured IMP the dense run and every round's retraining
    (structured IMP prunes level by level to the ticket's densities, counted at the ticket's
    masks); one-shot the dense run and a fine-tune as long; RigL one run at 1x or 5x the
    iterations with ``rigl``'s dense-gradient updates; PaI one masked run."""
    t = imp.settings.train.iterations
    ticket = ticket_training(imp, round_)
    plans = {"dense": ({"dense": trained}, [(t, None, "model")]),
             "small": ({"dense": small}, [(t, None, "small")]),
             "structured": ({"dense": structured_model(trained, structured)}, ticket),
             "ticket": (None, ticket),
             "one_shot": (None, [(t, None, "model"), (t, masks.get("one_shot"), "model")]),
             "rigl": (None, [(t, masks.get("rigl"), "model", rigl)]),
             "rigl_5x": (None, [(5 * t, masks.get("rigl_5x"), "model", rigl)]),
             "pai": (None, [(t, masks.get("pai"), "model")])}
    return [Route(name, np.asarray(accuracy[name], dtype=float),
                  forms if forms is not None else sparse_forms(trained, masks[name]), training, notes.get(name, ""))
            for name, (forms, training) in plans.items() if name in accuracy]


def route_bounds(route: Route, dense: nn.Module, input_shape: Sequence[int], machine: Machine) -> dict[int, float]:
    """Per batch timed, the ceiling on the speed-up of the form ``route`` ran fastest in
    (``time_routes``): the dense baseline timed beside it (the faster of its two medians)
    over that form's roofline time (``network_bound_s``): no kernel of that form could beat
    this dense timing by more."""
    del dense  # the ceiling reads dense's measured time, not its roofline
    return {b: min(route.dense_ms[b]) / 1e3 / network_bound_s(route.forms[f], input_shape, b, machine)
            for b, f in route.picked.items()}


def cost_routes(routes: Sequence[Route], model: nn.Module, small: nn.Module, input_shape: tuple[int, ...],
                batch_size: int, *, repeats: int = 10, threads: int | None = None) -> dict[str, float]:
    """Set each route's training ``macs`` (``sparse_training.training_flops`` of each piece, in
    multiples of one dense training run) and ``seconds`` (each piece's iterations times the
    step time of the network it trains, measured here: lthlib trains every sparse route
    masked, so its step is the masked dense step). Returns the step seconds measured."""
    masks = [m for r in routes for _, m, *_ in r.training if m is not None]
    steps = {"dense": train_step_fn(masked_model(model, Mask.ones_like(model)), batch_size, input_shape),
             "masked": train_step_fn(masked_model(model, masks[-1]), batch_size, input_shape, masks[-1]),
             "small": train_step_fn(masked_model(small, Mask.ones_like(small)), batch_size, input_shape)}
    t = {k: v.median_s for k, v in time_calls(steps, repeats=repeats, min_time=1e-3, threads=threads).items()}
    one = training_flops(model, input_shape, 1, batch_size)
    dense_run = max(i for r in routes for i, m, n, *_ in r.training if m is None and n == "model") * one
    for r in routes:
        r.macs = sum(training_flops(small if n == "small" else model, input_shape, i, batch_size, mask=m,
                                    settings=rest[0] if rest else None) for i, m, n, *rest in r.training) / dense_run
        r.seconds = sum(i * t["small" if n == "small" else ("dense" if m is None else "masked")]
                        for i, m, n, *_ in r.training)
    return t


def route_table(routes: Sequence[Route], percent: float) -> str:
    """A Markdown row per route: accuracy (mean, min-max over its seeds), inference speed-up
    per batch (and the format), training time measured here and multiply-adds."""
    batches = sorted(routes[0].speed)
    lines = ["| route | seeds | test accuracy | " + " | ".join(f"speed-up, batch {b}" for b in batches)
             + " | training time | training multiply-adds (dense runs) | how |",
             "|---|---:|---|" + "---:|" * len(batches) + "---:|---:|---|"]
    for r in routes:
        cells = " | ".join(f"{r.speed[b][0]:.2f}x" + (f" ({r.speed[b][1]})" if r.speed[b][1] else "")
                           for b in batches)
        lines.append(f"| {ROUTE_LABELS[r.name]} | {len(r.accuracy)} | {spread(r.accuracy)} | {cells} | "
                     f"{r.seconds:.1f} s | {r.macs:.2f} | {r.note} |")
    base = "; ".join(f"batch {b}: {r0:.3g} and {r1:.3g} ms" for b, (r0, r1) in sorted(routes[0].dense_ms.items()))
    return (f"Every route at {percent:.1f}% of the weights (dense: all of them):\n\n" + "\n".join(lines)
            + "\n\nSpeed-ups: each route's fastest form against dense, all timed side by side in one call per batch;"
            + (f" dense was timed twice in that call ({base}) and the faster is the baseline." if base else "")
            + " Training time counts each sparse route trained masked, at a dense step's cost (lthlib trains "
            "that way); multiply-adds count only the kept weights' work, plus RigL's dense-gradient updates. "
            "One-shot + fine-tune retrains as many iterations as the dense run, at the original learning-rate "
            "schedule: learning-rate rewinding (Renda et al. 2020), a strong baseline, not a low-rate fine-tune.")


def best_within(routes: Sequence[Route], key: Callable[[Route], float], limit: float) -> Route | None:
    """The most accurate route (mean over seeds) among those whose ``key`` is at least
    ``limit`` (speed) or, for a negative key, at most ``-limit`` (cost); None if none is."""
    ok = [r for r in routes if key(r) >= limit]
    return max(ok, key=lambda r: float(np.mean(r.accuracy))) if ok else None


def _mean(r: Route) -> float:
    return float(np.mean(r.accuracy))


def route_readings(routes: Sequence[Route], reference: str = "ticket", noise: float = 1.0) -> dict:
    """What the equal-speed and equal-cost comparisons find against the ``reference`` route,
    among the routes that deliver a network smaller than dense (the dense network, always the
    most accurate and never faster, compares nothing): per batch the most accurate route at
    least as fast (``"speed <b>"``; speeds within a factor ``noise`` of the reference's, the
    timing noise of identical networks, count as equal; None if none), the most accurate
    that cost no more measured training time (``"time"``) and no more multiply-adds
    (``"macs"``), and ``"dominates"``: the routes at least as fast at every batch, no more
    costly in time and multiply-adds, and more accurate (mean over seeds) than the reference."""
    ref = next(r for r in routes if r.name == reference)
    small = [r for r in routes if r.name != "dense"]
    out: dict = {}
    for b in ref.speed:
        out[f"speed {b}"] = best_within(small, lambda r, b=b: r.speed[b][0], ref.speed[b][0] / noise)
    out["time"] = best_within(small, lambda r: -r.seconds, -ref.seconds)
    out["macs"] = best_within(small, lambda r: -r.macs, -ref.macs)
    out["dominates"] = [r for r in small if r is not ref and _mean(r) > _mean(ref)
                        and all(r.speed[b][0] >= ref.speed[b][0] / noise for b in ref.speed)
                        and r.seconds <= ref.seconds and r.macs <= ref.macs]
    return out


def _route(r: Route) -> str:
    return f"{ROUTE_LABELS[r.name]} ({spread(r.accuracy)}, {len(r.accuracy)} seeds)"


def _against_ceiling(speed: float, ceiling: float, form: str, noise: float) -> str:
    """A speed-up against its ceiling; the masked form (dense work) against the noise margin."""
    if form in ("dense", "masked"):
        inside = 1 / noise <= speed <= noise
        return (f"it runs {speed:.2f}x in the masked form, which does the dense work, so its distance from 1x is "
                + ("within" if inside else "outside") + f" the {noise - 1:.0%} noise margin")
    if speed <= ceiling:
        return f"it runs {speed:.2f}x, {ceiling / speed:.1f}x below its ceiling of {ceiling:.1f}x"
    return (f"it runs {speed:.2f}x, above its ceiling of {ceiling:.1f}x: no kernel beats the roofline, so the "
            "calibration read the machine low")


def practical_words(routes: Sequence[Route], noise: float = 1.0, equal_speed: str = "",
                    rivals_win: bool = False) -> str:
    """The practical half from the route table, against the ticket: at batch 1, whether it
    runs faster than dense at all; per larger batch, the most accurate smaller route at
    least as fast; how small dense and structured IMP compare at that speed; equal training
    time; ``equal_speed`` (``equal_speed_summary``: larger networks at the ticket's speed) and
    ``rivals_win`` (it found one more accurate); and a closing yes/no: is any route at least
    as fast, no more costly and more accurate (descriptive: routes' seeds differ)."""
    ticket = next(r for r in routes if r.name == "ticket")
    dense = next((r for r in routes if r.name == "dense"), None)
    found = route_readings(routes, noise=noise)
    within = f" (or within {noise - 1:.0%} of it)" if noise > 1 else ""
    parts = []
    for b in sorted(ticket.speed):
        x = ticket.speed[b][0]
        if x < noise:
            words = (f"at batch {b} the ticket runs no faster than dense ({x:.2f}x, within the noise"
                     + (f"; the dense network is more accurate: {spread(dense.accuracy)}, {len(dense.accuracy)} seeds, "
                           f"against the ticket's {spread(ticket.accuracy)}" if dense is not None
                        and _mean(dense) > _mean(ticket) else "") + "), so equal speed there means the dense network")
        else:
            best = found[f"speed {b}"]
            words = (f"at batch {b} the ticket runs {x:.2f}x ({ticket.speed[b][1] or 'masked'}); the most accurate "
                     f"smaller route at least as fast{within} is {_route(best)}")
            rivals = [r for r in routes if r.name in ("small", "structured")]
            for r in rivals:
                rel = "faster" if r.speed[b][0] >= x / noise else "slower"
                acc = "more" if _mean(r) > _mean(ticket) else "less"
                words += (f"; {ROUTE_LABELS[r.name]} of the ticket's size runs {r.speed[b][0]:.2f}x ({rel}), {acc} "
                          "accurate than the ticket")
        parts.append(words)
    time_best = found["time"]
    cost = (f"Among the smaller routes that took no more training time than the ticket ({ticket.seconds:.1f} s "
            f"here), the most accurate is {_route(time_best)}." if time_best is not None else "")
    dom = found["dominates"]
    if dom:
        best = max(dom, key=_mean)
        verdict = (f"**Is a sparse ticket the practical route here? No, not on this machine:** {_route(best)} is at "
                   f"least as fast at every batch timed{within}, took no more training time ({best.seconds:.1f} s "
                   f"against {ticket.seconds:.1f} s) and no more multiply-adds ({best.macs:.2f} against "
                   f"{ticket.macs:.2f} dense runs), and is more accurate than the ticket ({_route(ticket)})"
                   + (f"; so are {', '.join(ROUTE_LABELS[r.name] for r in dom if r is not best)}" if len(dom) > 1
                      else "") + ". Descriptive: means over the seeds each route has, one timing of seed 0's masks.")
    elif rivals_win:
        verdict = ("**Is a sparse ticket the practical route here? No, not on this machine:** no route of the "
                   f"ticket's size is at once at least as fast at every batch{within}, no more costly and more "
                   f"accurate than the ticket ({_route(ticket)}), but at its speed a larger network running plain "
                   "dense code is more accurate (above). Descriptive: means over the seeds each route has.")
    else:
        verdict = ("**Is a sparse ticket the practical route here?** No route measured is at the same time at least "
                   f"as fast at every batch{within}, no more costly to train and more accurate than the ticket "
                   f"({_route(ticket)}): on this machine the ticket is on the front of speed, cost and accuracy "
                   "(descriptive: means over the seeds each route has, one timing of seed 0's masks).")
    return "; ".join(parts) + ". " + (equal_speed + " " if equal_speed else "") + cost + " " + verdict


def route_words(routes: Sequence[Route], ticket_ceiling: Mapping[int, float], noise: float = 1.0,
                machine_words: str = "", equal_speed: str = "", rivals_win: bool = False) -> str:
    """Section 6's reading: ``practical_words``, then where the ticket sits against its
    ceiling (``ticket_ceiling``: batch -> ``route_bounds`` of the form it ran fastest in;
    the masked form, which does the dense work, against the noise margin instead), with the
    calibration the roofline used (``machine_words``)."""
    ticket = next(r for r in routes if r.name == "ticket")
    bound = "; ".join(f"at batch {b}, " + _against_ceiling(ticket.speed[b][0], ticket_ceiling[b],
                                                            ticket.picked.get(b, ""), noise)
                      + ("" if ticket.picked.get(b) in ("dense", "masked") else f" ({FORMAT_LABELS[ticket.picked[b]]})")
                      for b in sorted(ticket_ceiling))
    cal = f" (roofline from {machine_words})" if machine_words else ""
    return (f"**At equal speed and cost:** {practical_words(routes, noise, equal_speed, rivals_win)}\n\n"
            f"**The ticket and its ceiling** (this dense timing over the ticket's roofline time{cal}): {bound}.")
