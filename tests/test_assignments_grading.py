"""Grading the assignments fairly (lthlib.report.grading, assignments/): feedback shows no hidden test,
an answer that calls lthlib's own implementation scores 0, hidden-test messages say what is
wrong, and a3's visible tests catch the mistakes the hidden ones used to catch alone.

The full nbgrader check of every assignment (solutions, stubs, every wrong submission and its
feedback) is in tests/test_assignments.py; the tests here run in-process or on a toy course."""
from __future__ import annotations

import ast
import functools
import re
import sys

import nbformat
from conftest import write_toy_assignment
import pytest
import torch

from lthlib.apps import assignment_sources as S
from lthlib.apps import assignments as A
from lthlib.masks import Mask
from lthlib.methods.pruning import magnitude_prune
from lthlib.report import grading as G

NAMES = S.names()


def _meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {}) or {}


def _source(name: str):
    return nbformat.read(S.source_notebook(name), as_version=4)


# ------------------------------------------------------------------ no shortcut through the library
_W = {"a": torch.tensor([0.3, -0.1, 0.5, 0.2])}
_M = Mask({"a": torch.ones(4, dtype=torch.bool)})


def _own(weights, mask, rates):
    keep = weights["a"].abs() > 0.25
    return Mask({"a": keep})


def test_no_shortcut_passes_own_code_and_its_errors():
    guarded = G.no_shortcut(_own, "Part A", "lthlib.methods.pruning.magnitude_prune")
    assert guarded(_W, _M, {"a": 0.5}) == _own(_W, _M, {"a": 0.5})

    def stub(*args):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        G.no_shortcut(stub, "Part A", magnitude_prune)(_W, _M, {})


@pytest.mark.parametrize("route", ["direct", "alias", "partial", "through_lthlib", "swallowed"])
def test_no_shortcut_catches_every_route_to_the_reference(route):
    import lthlib.methods.pruning

    alias = lthlib.methods.pruning.magnitude_prune
    bound = functools.partial(magnitude_prune, allow_empty_layers=True)

    def answer(weights, mask, rates):
        if route == "direct":
            return lthlib.methods.pruning.magnitude_prune(weights, mask, rates)
        if route == "alias":
            return alias(weights, mask, rates)
        if route == "partial":
            return bound(weights, mask, rates)
        if route == "through_lthlib":  # another library function that calls the reference
            return lthlib.methods.pruning.magnitude_prune(weights, mask, 0.5, scope="global")
        try:
            lthlib.methods.pruning.magnitude_prune(weights, mask, {"zz": 0.5})  # raises: unknown layer
        except Exception:  # noqa: BLE001 (the point: a swallowed call still counts)
            pass
        return _own(weights, mask, rates)

    guarded = G.no_shortcut(answer, "Part A", "lthlib.methods.pruning.prune_by_score")
    if route != "through_lthlib":
        guarded = G.no_shortcut(answer, "Part A", "lthlib.methods.pruning.magnitude_prune")
    with pytest.raises(G.ShortcutError, match=r"Part A scores 0: your answer calls lthlib\.methods\.pruning\."):
        guarded(_W, _M, {"a": 0.5})


def test_no_shortcut_refuses_a_removed_profiler_and_does_not_stack():
    def tamper(weights, mask, rates):
        sys.setprofile(None)
        return magnitude_prune(weights, mask, rates)

    with pytest.raises(G.ShortcutError, match="changed the interpreter's profiler"):
        G.no_shortcut(tamper, "Part A", magnitude_prune)(_W, _M, {"a": 0.5})
    assert sys.getprofile() is None
    once = G.no_shortcut(_own, "Part A", magnitude_prune)
    twice = G.no_shortcut(once, "Part A", magnitude_prune)
    assert twice.__lthlib_unguarded__ is _own


def test_no_shortcut_watches_a_decorated_function_only_by_its_own_code():
    """torch.no_grad's wrapper shares one code object among every function it decorates:
    watching it would flag unrelated calls (lthlib.engine.training.evaluate, for one)."""
    import lthlib
    from lthlib.engine.training import model_for

    settings = lthlib.TrainSettings(iterations=5, eval_every=5, batch_size=8, train_size=64, validation_size=32,
                                    model_kwargs={"hidden": (4,)})
    data = lthlib.load_dataset("mnist1d", train_size=64, validation_size=32)
    model = model_for(settings, data)
    evaluate = G.no_shortcut(lambda: lthlib.evaluate(model, data.x_val, data.y_val), "Part X",
                             "lthlib.experiments.lmc.reset_batchnorm")
    evaluate()  # no ShortcutError


def _watched_names() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name in NAMES:
        for cell in _source(name).cells:
            for call in re.finditer(r"no_shortcut\((.*?)\)\n", cell.source, re.S):
                found.setdefault(name, []).extend(re.findall(r'"(lthlib\.[\w.]+)"', call.group(1)))
    return found


def test_every_reference_the_assignments_watch_exists():
    """A renamed library function would silently stop being watched (no_shortcut skips a
    name that no longer resolves, so that students' kernels do not fail on it)."""
    watched = _watched_names()
    # a6's sensitivity scan has no implementation in lthlib to call; every other assignment has
    assert set(NAMES) - set(watched) <= {"a6_sensitivity"}, f"unguarded: {sorted(set(NAMES) - set(watched))}"
    for name, refs in watched.items():
        for ref in refs:
            assert G._functions_of(ref), f"{name}: no_shortcut watches {ref}, which is not a function of lthlib"


def _cells(name: str) -> dict[str, str]:
    return {_meta(c)["grade_id"]: c.source for c in _source(name).cells if _meta(c).get("grade_id")}


def _setup_namespace(name: str) -> dict:
    """The namespace of a student's kernel after the setup cell of ``name`` (SCALE smoke)."""
    ns: dict = {"__name__": "__main__"}
    nb = _source(name)
    for cell in nb.cells:
        if "parameters" in cell.metadata.get("tags", []):
            exec(cell.source, ns)
    exec(_cells(name)[f"{name.split('_')[0]}_setup"].replace("%matplotlib inline", ""), ns)
    return ns


def test_shortcut_scores_zero_only_because_of_the_guard():
    """The issue's case: a1's layerwise_prune calling lthlib.methods.pruning.magnitude_prune passed
    every test (12/12). With the guard it fails Part A with a message saying why; the same
    test cell without its guard line still passes it (the check is the guard, nothing else)."""
    name = "a1_magnitude_pruning"
    (wrong,) = [w for w in S.wrong_solutions(name) if w.variant == "shortcut"]
    test = _cells(name)["test_layerwise_prune"]
    guard = re.search(r"^layerwise_prune = no_shortcut\(.*?\)\n", test, re.S | re.M).group(0)
    ns = _setup_namespace(name)
    exec(wrong.code, ns)
    with pytest.raises(G.ShortcutError, match="Part A scores 0: your layerwise_prune calls lthlib.methods.pruning.magnitude_prune"):
        exec(test, ns)
    ns = _setup_namespace(name)
    exec(wrong.code, ns)
    exec(test.replace(guard, ""), ns)  # before: full marks for a call into the library


# ------------------------------------------------------------------ hidden-test messages
def _asserts(region: str):
    for node in ast.walk(ast.parse(region)):
        if isinstance(node, ast.Assert):
            yield node


def test_every_hidden_assert_says_what_is_wrong_without_seeds():
    """A hidden test's message is all a student learns from it: each has one, and none
    interpolates a seed (feedback must not give away the hidden cases' seeds)."""
    for name in NAMES:
        for cell in _source(name).cells:
            for region in G.hidden_regions(cell.source):
                for node in _asserts(region):
                    where = f"{name} {_meta(cell)['grade_id']} line {node.lineno}"
                    assert node.msg is not None, f"{where}: a hidden assert without a message"
                    names = {n.id for n in ast.walk(node.msg) if isinstance(n, ast.Name)}
                    attrs = {n.attr for n in ast.walk(node.msg) if isinstance(n, ast.Attribute)}
                    assert not {n for n in names | attrs if re.fullmatch(r"_?seed", n)}, \
                        f"{where}: the message shows a seed"
                    text = ast.unparse(node.msg)
                    assert not re.search(r"differs from lthlib[\w.]*['\"]?\)?$", text), \
                        f"{where}: say what is wrong, not only that it differs from lthlib"


def test_a_hidden_region_never_reuses_a_name_only_an_earlier_hidden_region_defines():
    """If an earlier part's visible tests fail, its hidden region never runs: a later hidden
    region relying on its imports would then fail too, and one mistake would cost two parts."""
    for name in NAMES:
        defined_hidden: set[str] = set()
        for cell in _source(name).cells:
            if not (_meta(cell).get("grade") and cell.cell_type == "code"):
                continue
            visible = S.visible_part(cell.source)
            for region in G.hidden_regions(cell.source):
                tree = ast.parse(region)
                own = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
                own |= {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
                used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
                borrowed = {u for u in used & defined_hidden if u not in own and not re.search(rf"\b{u}\b", visible)}
                assert not borrowed, f"{name} {_meta(cell)['grade_id']}: the hidden tests use {borrowed} from an earlier hidden region"
                defined_hidden |= own


def test_mask_difference_names_the_mistake():
    want = Mask({"a": torch.tensor([True, False, True, True]), "b": torch.tensor([True, True])})
    before = Mask({"a": torch.tensor([True, False, True, True]), "b": torch.tensor([True, True])})
    scores = {"a": torch.tensor([1.0, 0.0, 2.0, 2.0]), "b": torch.tensor([1.0, 1.0])}
    assert G.mask_difference(want, want) is None
    assert "came back to life" in G.mask_difference(Mask({"a": torch.ones(4, dtype=torch.bool), "b": want["b"]}),
                                                    want, before=Mask({"a": want["a"], "b": before["b"]}))
    assert "you keep 2 weights, 3 should stay" in G.mask_difference(
        Mask({"a": torch.tensor([True, False, True, False]), "b": want["b"]}), want)
    tie = Mask({"a": torch.tensor([False, True, True, True]), "b": want["b"]})
    assert "among ties" not in G.mask_difference(tie, want, scores=scores)  # 0 vs 1: not a tie
    tie_scores = {"a": torch.tensor([1.0, 1.0, 2.0, 2.0]), "b": scores["b"]}
    assert "among ties the lower (flattened) index is removed first" in G.mask_difference(tie, want, scores=tie_scores)
    assert "over the layers ['a', 'b']" in G.mask_difference(Mask({"a": want["a"]}), want)


# ------------------------------------------------------------------ a3: visible tests that discriminate
@pytest.fixture(scope="module")
def a3():
    return _setup_namespace("a3_linear_mode_connectivity")


@pytest.mark.parametrize("variant", ["reversed_alpha", "accuracies", "swapped_states", "start_zero"])
def test_a3_visible_tests_catch_the_mistake_and_only_its_part_is_lost(a3, variant):
    """The issue's cases: a reversed alpha passed Part C's visible test (both endpoints had
    error 0.898) and then cost Parts C and D as well; accuracies instead of errors got a
    message about np.linspace; a child trained from iteration 0 was caught only by a hidden
    test with an opaque message. Now the part's own visible test fails with the message the
    wrong submission names, and every other part passes (its visible and hidden tests)."""
    name = "a3_linear_mode_connectivity"
    cells = _cells(name)
    (wrong,) = [w for w in S.wrong_solutions(name) if w.variant == variant]
    ns = dict(a3)
    for cell, code in cells.items():
        if cell in ("interpolate", "error_barrier", "interpolation_errors", "instability"):
            exec(code, ns)  # the source solutions
    exec(wrong.code, ns)
    for test in ("test_interpolate", "test_error_barrier", "test_interpolation_errors", "test_instability"):
        if test in wrong.loses:
            with pytest.raises(AssertionError) as err:
                exec(S.visible_part(cells[test]), ns)
            for message in wrong.says:
                assert message in str(err.value), f"{test} says {err.value!s:.300}"
        else:
            exec(cells[test], ns)  # visible and hidden tests pass: the parts are decoupled


def test_a3_part_c_endpoints_differ(a3):
    """A visible test whose two endpoints have the same error cannot tell alpha's direction."""
    test = _cells("a3_linear_mode_connectivity")["test_interpolation_errors"]
    ns = dict(a3)
    exec(_cells("a3_linear_mode_connectivity")["interpolation_errors"], ns)
    exec(S.visible_part(test), ns)
    err_a, err_b = (1 - ns["_loss_acc"](s)[1] for s in (ns["_trained"], ns["_untrained"]))
    assert abs(err_a - err_b) > 0.1, (err_a, err_b)


# ------------------------------------------------------------------ feedback without leaks, on a toy course
def _toy(source, name="t2_secret"):
    return write_toy_assignment(source, name, "import random\n_hidden_generator = random.Random(424242)\n"
                                "_secret_case = _hidden_generator.randint(3, 9)\n"
                                'assert double(_secret_case) == 2 * _secret_case, '
                                '"double of an unseen odd-or-even number is wrong"')


def test_feedback_shows_the_tests_message_and_no_hidden_test(tmp_path):
    """Before: nbgrader's own generate_feedback shows the hidden test's source (its seed
    included) and a traceback through it. After (the course's config, HideHiddenTests): the
    test's message, and nothing of the hidden test."""
    source = tmp_path / "source"
    name = _toy(source)
    with A.Course([name], source) as course:
        course.generate(name)
        nb = nbformat.read(S.source_notebook(name, source), as_version=4)
        cells = {_meta(c).get("grade_id"): c for c in nb.cells}
        # passes the visible test, fails the hidden one
        cells["double"].source = "def double(x):\n    return x + 1 if x > 2 else 2 * x\n"
        course.submit(name, "student", nb)
        scores = course.autograde(name, "student")
        assert scores["test_double"][0] == 0
        page = course.feedback(name, "student").read_text()
        assert G.feedback_leaks(page, S.source_notebook(name, source), shown=[cells["double"].source]) == []
        assert G.feedback_errors(page) == {"test_double": ["AssertionError: double of an unseen odd-or-even number is wrong"]}
        assert "424242" not in page and "_secret_case" not in page

        from nbgrader.apps import NbGraderAPI

        with A._quiet():  # nbgrader's own feedback step: the course folder without the course's config
            api = NbGraderAPI(config=A.nbgrader_config(course.root, config_file=tmp_path / "no_config.py"))
            assert api.generate_feedback(name, "student", force=True)["success"]
        page = (course.root / "feedback" / "student" / name / f"{name}.html").read_text()
        leaks = G.feedback_leaks(page, S.source_notebook(name, source), shown=[cells["double"].source])
        assert any("hidden-test line" in p for p in leaks) and any("traceback" in p for p in leaks), leaks
        assert "424242" in page
