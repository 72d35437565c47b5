"""Two computations of the same training run compared to float32 rounding, with the
tolerances derived below (the batched population against ``train`` alone)."""
import pytest
import torch

from lthlib.engine.training import METRICS, Run
from lthlib.masks import Mask


# Float32 rounding: unit roundoff u = 2**-24 ~ 6e-8. A gradient element is a sum over a
# batch of products of activations; computed by another kernel (batched baddbmm or a
# grouped convolution against addmm / conv, or another CPU's SIMD width) its last bits
# differ by about sqrt(terms) * u relative, ~1e-6 here.
#   - SGD moves a weight by lr * g, so such differences stay at ~lr * steps * 1e-6 * |g|:
#     far below 1e-5 for the tens of steps these tests take. Weights then agree to
#     rtol 1e-4 / atol 1e-5 on any kernel set, and losses (means over examples) to 1e-4.
#   - Adam divides by sqrt(v): where a gradient element is itself near zero (|g| within
#     its own rounding error), the two computations can step in opposite directions, a
#     difference of up to 2 * lr * (1 - b1) / sqrt(1 - b2) ~ 6.3 lr in one step (b1 = 0.9,
#     b2 = 0.999), whatever the precision. Such elements are rare (under 0.1% measured on
#     three kernel sets), while a real bug -- a wrong lr, weight decay, data order, mask or
#     start -- moves almost every weight. So for Adam every weight must lie within the
#     step bound (steps * 6.3 lr), and at most 1% of them beyond rounding.
#   - Accuracies count examples: an example whose two largest logits tie to rounding may
#     be classified either way, so accuracies may differ by one example.
ADAM_STEP_BOUND = 2 * (1 - 0.9) / (1 - 0.999) ** 0.5  # 2 (1 - b1) / sqrt(1 - b2), about 6.3
OUTLIERS = 0.01


def assert_state_close(got: dict, want: dict, settings, steps: int, where: str) -> None:
    """Two state dicts: the same weights after ``steps`` steps computed two ways (see above)."""
    if settings.optimizer != "adam":
        for name in want:
            torch.testing.assert_close(got[name], want[name], rtol=1e-4, atol=1e-5, msg=f"{name} at {where}")
        return
    bound = steps * ADAM_STEP_BOUND * settings.lr + 1e-5
    differ = total = 0
    for name in want:
        assert (got[name] - want[name]).abs().max() <= bound, f"{name} at {where}: beyond Adam's step bound {bound:.3g}"
        differ += int((~torch.isclose(got[name], want[name], rtol=1e-4, atol=1e-5)).sum())
        total += want[name].numel()
    assert differ <= OUTLIERS * total, f"at {where}: {differ} of {total} weights differ beyond rounding"


def assert_same_run(run: Run, ref: Run, eval_examples: int = 200) -> None:
    """The same run computed two ways: what must agree exactly (iterations, start, early
    stop, masks, exact zeros, the starting weights), the rest to float32 rounding as
    derived above."""
    assert run.iterations == ref.iterations
    assert run.early_stop_index == ref.early_stop_index
    assert run.start_iteration == ref.start_iteration and run.settings == ref.settings
    for metric in METRICS:
        got, want = getattr(run, metric), getattr(ref, metric)
        tol = dict(abs=1.0 / eval_examples + 1e-7) if metric.endswith("acc") else dict(rel=1e-4, abs=1e-7)
        assert got == pytest.approx(want, **tol), metric
    assert sorted(run.weights_at) == sorted(ref.weights_at)
    settings = ref.train_settings
    states = [(run.final_state, ref.final_state, settings.iterations)] + [
        (run.weights_at[k], ref.weights_at[k], k) for k in ref.weights_at]
    for state, want, at in states:
        assert list(state) == list(want)
        for name in want:
            assert state[name].shape == want[name].shape and state[name].device.type == "cpu"
            if at == ref.start_iteration:  # the starting weights: copies, bit for bit
                assert torch.equal(state[name], want[name]), name
        if at != ref.start_iteration:
            assert_state_close(state, want, settings, at - ref.start_iteration, f"iteration {at}")
    assert (run.mask is None) == (ref.mask is None)
    if ref.mask is not None:
        assert Mask(run.mask) == Mask(ref.mask)
        for state in [s for s in (run.final_state, *run.weights_at.values()) if s]:  # none if stored without
            for name, keep in ref.mask.items():
                assert torch.all(state[name][~keep] == 0.0), name  # exactly zero
