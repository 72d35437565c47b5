"""How independent runs are cut into batched passes and handed to the workers: the plan
depends only on the request, and two cores finish together."""
import dataclasses

import pytest

import lthlib.engine.passes as passes
from lthlib.engine.passes import MAX_MEMBERS, MIN_PASSES, ALONE, pass_count, plan_passes, train_passes


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 9, 31, 32, 33, 64, 65, 72, 80, 96, 160, 200])
def test_a_group_is_cut_into_an_even_number_of_near_equal_passes(n):
    k = pass_count(n)
    sizes = [len(c) for c in passes._cut(list(range(n)), k)]
    assert sum(sizes) == n and len(sizes) == k
    assert max(sizes) <= MAX_MEMBERS and max(sizes) - min(sizes) <= 1
    assert k == n or k % MIN_PASSES == 0  # every core gets as many passes as the other
    # no more passes than that: fewer could not hold n members, or would be an odd count
    assert k == min(n, MIN_PASSES) or -(-n // (k - MIN_PASSES)) > MAX_MEMBERS
    assert [i for c in passes._cut(list(range(n)), k) for i in c] == list(range(n))  # in order


def test_plan_cuts_each_group_in_order(mnist1d_small, tiny_settings):
    state = {}
    s1, s2 = tiny_settings, dataclasses.replace(tiny_settings, model_kwargs={"hidden": (16, 8)})
    members = [(state, None, 0, [], s1 if i % 4 else s2) for i in range(100)]
    planned = plan_passes(members, mnist1d_small)
    first = [p.members for p in planned if members[p.members[0]][4] is s1]
    second = [p.members for p in planned if members[p.members[0]][4] is s2]
    assert [len(m) for m in first] == [19, 19, 19, 18]  # 75 members: 4 passes, not 3 of 25
    assert [i for m in first for i in m] == [i for i in range(100) if i % 4]
    assert [len(m) for m in second] == [13, 12]
    assert all(p.identity != ALONE for p in planned)
    assert plan_passes(members, mnist1d_small) == planned  # the same request, the same plan


def test_the_passes_with_most_work_go_to_the_workers_first(mnist1d_small, tiny_settings, monkeypatch):
    """Scheduling only: each member's Run comes back under its own index."""
    members = [(None, None, start, [], tiny_settings) for start in (30, 30, 0, 0, 20, 10)]
    planned = [passes.Pass((0, 1), "a"), passes.Pass((2,), ALONE), passes.Pass((3, 4), "b"),
               passes.Pass((5,), ALONE)]
    seen = []

    def fake_map(fn, items, workers=None, on_cpu=True):
        seen.extend([m[2] for m in item[0]] for item in items)
        return [[f"run of start {m[2]}" for m in item[0]] for item in items]

    monkeypatch.setattr(passes, "parallel_map", fake_map)
    runs = train_passes(members, planned, mnist1d_small, workers=2)
    assert seen == [[0, 20], [0], [10], [30, 30]]  # 60, 40, 30 and 20 member-steps
    assert runs == {i: f"run of start {members[i][2]}" for i in range(6)}


def test_a_pass_of_1d_cnns_names_its_head_computation_and_others_keep_their_identity(mnist1d_small, tiny_settings):
    """The MNIST-1D CNN's head is im2col by hand (``stacked_conv.COMPUTATION``), whose last
    bits differ from the grouped convolution's that trained such passes before: its pass
    identities name it, so those stored results are not reused. An MLP pass's identity is
    the digest of its members alone, as before, so its stored results still are."""
    from lthlib.core.identity import digest
    from lthlib.engine.stacked_conv import COMPUTATION

    cnn = dataclasses.replace(tiny_settings, model="cnn_mnist1d", model_kwargs={})
    for settings, head in ((tiny_settings, []), (cnn, [["conv_head", COMPUTATION]])):
        members = [({}, None, 0, [], dataclasses.replace(settings, seed=s)) for s in range(4)]
        planned = plan_passes(members, mnist1d_small)
        assert [p.members for p in planned] == [(0, 1), (2, 3)]
        for p in planned:
            assert p.identity == "pass-" + digest([passes._member_digest(members[i]) for i in p.members] + head)


def test_a_pass_of_transformers_names_its_body_computation():
    """Notebook 10's transformers trained together compute their body by
    ``stacked_transformer`` (attention written out), whose last bits differ from ``train``'s:
    a pass names it, and a transformer trained alone keeps ``ALONE``."""
    from lthlib.core.identity import digest
    from lthlib.engine.stacked_transformer import COMPUTATION
    from lthlib.engine.training import data_for
    from lthlib.settings import TrainSettings

    settings = TrainSettings(model="transformer", dataset="modadd13", batch_size=16, iterations=4, eval_every=2,
                             model_kwargs=dict(d_model=8, heads=2, layers=1))
    data = data_for(settings, device="cpu")
    members = [({}, None, 0, [], dataclasses.replace(settings, seed=s)) for s in range(4)]
    planned = plan_passes(members, data)
    assert [p.members for p in planned] == [(0, 1), (2, 3)]
    for p in planned:
        assert p.identity == "pass-" + digest([passes._member_digest(members[i]) for i in p.members]
                                              + [["transformer_body", COMPUTATION]])
    assert [p.identity for p in plan_passes(members[:1], data)] == [ALONE]
