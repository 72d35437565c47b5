"""A population's members as the caller gives them: one value per member, whether
supermask members can share a batched pass, the checkpoint key that names a population,
and the fallback that trains the members one by one with ``train``. The batched pass itself
is ``lthlib.engine.population``."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Sequence

from torch import nn

from lthlib.core.store import CheckpointClock, StoreError, atomic_save, load_or_set_aside
from lthlib.data.datasets import Dataset
from lthlib.engine.stacked import batch_problem
from lthlib.engine.training import Run, TrainingDiverged, train
from lthlib.masks import Mask
from lthlib.methods.supermask import Supermask
from lthlib.settings import TrainSettings

CHECKPOINT_FORMAT = "lthlib.engine.population/1"


def checkpoint_key(mode: str, settings: Sequence[TrainSettings], masks: Sequence[Mask | None],
                   starts: Sequence[int], save_at: Sequence[Sequence[int]],
                   popup_density: float | None = None, updated: list[bool] | None = None) -> dict[str, Any]:
    key = {"format": CHECKPOINT_FORMAT, "mode": mode, "settings": [s.digest() for s in settings],
           "masks": [m.digest() if m is not None else None for m in masks],
           "starts": [int(k) for k in starts], "save_at": [sorted(int(k) for k in s) for s in save_at]}
    if popup_density is not None:  # the members are edge-popup supermasks at this density
        key["edge_popup"] = popup_density
    if updated is not None:  # which members' masks change during training (mask_update)
        key["mask_update"] = updated
    return key


def check_checkpoint(state: Any, key: dict[str, Any], path: Path) -> None:
    """Raise StoreError naming ``path`` unless it was written by this very population."""
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise StoreError(f"checkpoint {path} is not a population checkpoint; delete it or pass "
                         "another checkpoint path")
    if state.get("mode") != key["mode"]:
        raise StoreError(f"checkpoint {path} was written by the {state.get('mode')} path, not the "
                         f"{key['mode']} one; delete it to restart")
    for field, what in (("settings", "other settings (or another number of members)"),
                        ("edge_popup", "members of another kind (or edge-popup density)"),
                        ("mask_update", "members whose masks change otherwise (mask_update)"),
                        ("masks", "other masks"), ("starts", "other start iterations"),
                        ("save_at", "other save_weights_at iterations")):
        if state.get(field) != key.get(field):
            raise StoreError(f"checkpoint {path} belongs to {what}; delete it or pass another "
                             "checkpoint path")


def train_each(models: list[nn.Module], data: Dataset, settings: list[TrainSettings],
               masks: list[Mask | None], save_at: list[list[int]], starts: list[int],
               checkpoint: Path | None, progress: bool | None, mask_updates: list[Any]) -> list[Run]:
    """``train`` once per member. With a checkpoint, finished members' Runs are kept in it
    and the member in progress has its own ``train`` checkpoint beside it."""
    key = checkpoint_key("each", settings, masks, starts, save_at, None,
                         [u is not None for u in mask_updates] if any(mask_updates) else None)
    done: list[Run] = []
    state = load_or_set_aside(checkpoint) if checkpoint is not None and checkpoint.exists() else None
    if state is not None:
        check_checkpoint(state, key, checkpoint)
        done = [Run.from_dict(d) for d in state["runs"]]
    runs: list[Run] = []
    clock = CheckpointClock()
    for i, model in enumerate(models):
        if i < len(done):  # finished before the interruption: its weights are its final state
            model.load_state_dict(done[i].final_state)
            model.eval()
            runs.append(done[i])
            continue
        member_checkpoint = (checkpoint.with_name(f"{checkpoint.name}.member{i}")
                             if checkpoint is not None else None)
        try:
            run = train(model, data, settings[i], masks[i], save_weights_at=save_at[i],
                        start_iteration=starts[i], checkpoint=member_checkpoint, progress=progress,
                        mask_update=mask_updates[i])
        except TrainingDiverged as exc:
            raise TrainingDiverged(f"member {i}: {exc}") from exc
        runs.append(run)
        if checkpoint is not None and i < len(models) - 1 and clock.due():
            atomic_save({**key, "runs": [r.to_dict() for r in runs]}, checkpoint)
            clock.saved()
    if checkpoint is not None and checkpoint.exists():
        checkpoint.unlink()
    return runs


def edge_popup_problem(models: Sequence[nn.Module], masks: Sequence[Mask | None]) -> str | None:
    """Why supermask ``models`` cannot train in one batched pass (None: they can): they must
    all be edge-popup ``Supermask``s of one density (without weight rescaling) on batchable
    base networks of one architecture, with no further mask."""
    for i, m in enumerate(models):
        if not isinstance(m, Supermask):
            return f"models[{i}] is not a Supermask while models of the same pass are"
        if m.method != "edge_popup" or m.rescale:
            return (f"models[{i}] is a {m.method} supermask{' with rescaling' if m.rescale else ''}; "
                    "only edge-popup supermasks (rescale=False) train in a batched pass")
        if m.density != models[0].density:
            return f"models[{i}] keeps {m.density} of its weights, models[0] {models[0].density}: one density per pass"
        if masks[i] is not None:
            return f"masks[{i}] is given: a supermask member's mask is its own (its scores)"
    return batch_problem([m.base for m in models], frozen=True)


def per_member(name: str, value: Any, k: int) -> list[Any]:
    if isinstance(value, (list, tuple)):
        if len(value) != k:
            raise ValueError(f"{name} has {len(value)} entries for {k} models: give one per model "
                             "(in the same order) or a single value for all")
        return list(value)
    return [value] * k


def save_lists(save_weights_at: Any, k: int) -> list[list[int]]:
    """One list of iterations per member: a flat iterable of ints is shared by all."""
    items = list(save_weights_at)
    per_member = bool(items) and all(not isinstance(x, (int, float)) and isinstance(x, Iterable)
                                     for x in items)
    if not per_member:
        return [[int(x) for x in items] for _ in range(k)]
    if len(items) != k:
        raise ValueError(f"save_weights_at has {len(items)} lists for {k} models: give one list "
                         "per model or one list of iterations for all")
    return [[int(x) for x in member] for member in items]
