"""Every notebook under notebooks/ runs top to bottom at SCALE="smoke" under papermill.

Parametrised over the folder, so a new notebook is tested without editing this file.
"""
import json
import re
from pathlib import Path

import nbformat
import papermill as pm
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found under notebooks/"


def _execute(notebook: Path, folder: Path, results: Path) -> Path:
    """Run ``notebook`` at smoke scale with ``results`` as its store; returns its claims file."""
    folder.mkdir(parents=True, exist_ok=True)
    claims = folder / f"{notebook.stem}.claims.json"
    pm.execute_notebook(str(notebook), str(folder / notebook.name), cwd=str(notebook.parent), progress_bar=False,
                        execution_timeout=600,  # a stuck kernel fails the test, never hangs CI
                        parameters={"SCALE": "smoke", "RESULTS_DIR": str(results),
                                    "FIGURES_DIR": str(folder / "figures"), "CLAIMS_FILE": str(claims)})
    return claims


@pytest.fixture(scope="module")
def shared_store(smoke_results):
    """The session's one results store for smoke runs (conftest.smoke_results), on which the
    notebooks run in order as the suite runs them (each notebook after the ones before it),
    and the claims file of each notebook run so."""
    return smoke_results, {}


@pytest.mark.notebook
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_at_smoke_scale(notebook, tmp_path, monkeypatch, shared_store):
    monkeypatch.setenv("LTHLIB_PROGRESS", "0")
    monkeypatch.setenv("LTHLIB_HEADLESS", "1")
    results, claims_of = shared_store
    claims_file = _execute(notebook, tmp_path, results)
    claims_of[notebook.stem] = claims_file
    figures = tmp_path / "figures"
    out = tmp_path / notebook.name
    executed = nbformat.read(out, as_version=4)
    outputs = [o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert images, "the notebook drew no figure"
    assert list(figures.glob("*.png")), "FIGURES_DIR was set but no figure was saved"
    from lthlib.report.claims import load_claims

    claims = load_claims(claims_file)  # every notebook checks its claims
    assert claims and all(c.verdict == "not judged" for c in claims)  # smoke: computed, not judged


@pytest.mark.notebook
def test_claims_do_not_depend_on_what_ran_before(tmp_path, monkeypatch, shared_store):
    """Notebook 02 on an empty store gives the claims it gives after notebook 01 filled the
    store (01 trains the dense runs alone, 02 in populations: each is stored under the
    computation that gave its numbers, so neither is handed the other's)."""
    monkeypatch.setenv("LTHLIB_PROGRESS", "0")
    monkeypatch.setenv("LTHLIB_HEADLESS", "1")
    first, second = NOTEBOOKS[0], NOTEBOOKS[1]
    results, claims_of = shared_store
    after = claims_of.get(second.stem)
    if after is None or first.stem not in claims_of:  # run alone: 01 then 02 on one store
        _execute(first, tmp_path / "suite", tmp_path / "suite_results")
        after = _execute(second, tmp_path / "suite", tmp_path / "suite_results")
    alone = _execute(second, tmp_path / "alone", tmp_path / "alone_results")
    assert json.loads(alone.read_text()) == json.loads(after.read_text())


def test_notebooks_are_paired_stripped_and_parametrised():
    for nb_path in NOTEBOOKS:
        nb = nbformat.read(nb_path, as_version=4)
        assert nb_path.with_suffix(".py").exists(), f"{nb_path.name} has no paired .py"
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert not any(c.get("outputs") for c in code), f"{nb_path.name} is committed with outputs"
        params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
        assert len(params) == 1, f"{nb_path.name} needs exactly one cell tagged 'parameters'"
        assert "SCALE = " in params[0].source
        assert nb.cells[0].cell_type == "markdown"


# A number a run produced, quoted in prose: "in our runs", "we measured", or a decimal such
# as 0.715 outside a passage that cites a paper. Inline code and LaTeX are settings, not results.
RESULT_QUOTE = re.compile(r"\b(in )?our (quick[- ]scale )?runs?\b|\bwe measured\b|\bthis run measured\b|\bit read:",
                          re.IGNORECASE)
DECIMAL = re.compile(r"(?<![\w.])\d*\.\d{2,}(?![\w.])")
CITES = re.compile(r"report|paper|et al\.|\(\d{4}\)|\b(19|20)\d\d\b|published|Table|Figure", re.IGNORECASE)


def typed_results(markdown: str) -> list[str]:
    """Passages (paragraphs or list items) of ``markdown`` that quote a run's numbers."""
    text = re.sub(r"`[^`]*`|\$\$.*?\$\$|\$[^$]*\$", " ", markdown, flags=re.DOTALL)
    passages = re.split(r"\n\s*\n|\n(?=\s*(?:[-*]|\d+\.)\s)", text)
    return [p.strip() for p in passages
            if RESULT_QUOTE.search(p) or (DECIMAL.search(p) and not CITES.search(p))]


def test_the_scan_catches_typed_in_results():
    assert typed_results("In our runs the ticket reached about 0.75.")
    assert typed_results("- dense network about 0.715\n- k=100 recovers")
    assert not typed_results("Frankle & Carbin (2019) report 0.98 on MNIST.")
    assert not typed_results("Train with `lr=0.01` and $\\alpha = 0.25$.")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_no_markdown_quotes_a_number_the_run_produced(notebook):
    nb = nbformat.read(notebook, as_version=4)
    found = [p for c in nb.cells if c.cell_type == "markdown" for p in typed_results(c.source)]
    assert not found, (f"{notebook.name}: markdown quotes results a run produced; render them from "
                       f"the results (lthlib.report.claims.say) or cite the paper: {found}")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_ipynb_and_py_are_in_sync(notebook):
    import jupytext

    a = jupytext.read(notebook)
    b = jupytext.read(notebook.with_suffix(".py"))
    sources = lambda nb: [(c.cell_type, c.source.strip()) for c in nb.cells]  # noqa: E731
    assert sources(a) == sources(b), (f"{notebook.name} and its .py differ: run "
                                      f"`jupytext --sync {notebook.with_suffix('.py')}`")


def test_every_seed_parameter_is_the_headline_seed_count():
    """A notebook's seed counts are literals in its parameters cell (papermill needs them
    so); they are the one value ``settings.HEADLINE_SEEDS``, which reproduce's figures use too."""
    from lthlib.apps.reproduce import FIGURES
    from lthlib.settings import HEADLINE_SEEDS

    for nb_path in NOTEBOOKS:
        seeds = {k: v["default"] for k, v in pm.inspect_notebook(str(nb_path)).items() if k.endswith("SEEDS")}
        assert seeds and all(int(v) == HEADLINE_SEEDS for v in seeds.values()), (nb_path.name, seeds)
    assert all(figure.default_seeds == HEADLINE_SEEDS for figure in FIGURES.values())


def test_notebook_05s_path_points_are_the_instability_figures():
    """Notebook 05's POINTS literal and ``frankle2020-instability``'s points at quick are one value."""
    from lthlib.apps.reproduce import INTERPOLATION_POINTS

    (nb_path,) = [p for p in NOTEBOOKS if p.name.startswith("05_")]
    assert int(pm.inspect_notebook(str(nb_path))["POINTS"]["default"]) == INTERPOLATION_POINTS["quick"]


MAX_CELL_LINES = 25  # issue 22: library work belongs in lthlib, a notebook cell orchestrates


def _cell_problems(source: str) -> list[str]:
    """Why a code cell does library work: more than ``MAX_CELL_LINES`` lines that are not
    imports, or a function defined outside an exercise (an exercise cell calls ``check``)."""
    lines = [ln for ln in source.splitlines()
             if ln.strip() and not re.match(r"\s*(import |from \S+ import |%)", ln)]
    problems = [f"{len(lines)} lines"] if len(lines) > MAX_CELL_LINES else []
    if re.search(r"^\s*def \w+", source, re.M) and "check(" not in source:
        problems.append("defines a function outside an exercise")
    return problems


def test_the_cell_check_catches_library_work():
    assert _cell_problems("def reading(res):\n    return res.metric('ticket')\n") == [
        "defines a function outside an exercise"]
    assert _cell_problems("x = 1\n" * (MAX_CELL_LINES + 1)) == [f"{MAX_CELL_LINES + 1} lines"]
    assert _cell_problems("import os\n" * 40 + "def f():\n    pass\ncheck('f', f)\n") == []


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_cells_orchestrate_and_leave_library_work_to_lthlib(notebook):
    nb = nbformat.read(notebook, as_version=4)
    bad = {i: p for i, c in enumerate(nb.cells) if c.cell_type == "code" and (p := _cell_problems(c.source))}
    assert bad == {}, f"{notebook.name}: cells doing library work {bad}"


_NUMBER_LIST = re.compile(r"[\[(]\s*-?\d[\d.e_-]*\s*(?:,\s*-?\d[\d.e_-]*\s*){2,}[\])]")


def _typed_in_sweeps(source: str) -> list[str]:
    """Lists of three or more numbers typed into a cell (a sweep's densities, widths, seeds:
    the experiment's spec owns them); a worked example's ``torch.tensor([...])`` is allowed."""
    source = re.sub(r"torch\.tensor\(\[.*?\]\)", "", source, flags=re.S)
    return _NUMBER_LIST.findall(source)


def test_the_sweep_scan_catches_typed_in_values():
    assert _typed_in_sweeps("res = run(densities=(0.5, 0.2, 0.1))") == ["(0.5, 0.2, 0.1)"]
    assert _typed_in_sweeps("x = torch.tensor([[0.0, 1.5, 0.0],\n [0.1, 0.2, 0.3]])") == []


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_no_sweep_value_is_typed_into_a_notebook(notebook):
    """Sweep values, seed lists and presets live in the experiment's spec in lthlib; the
    parameters cell (papermill's overrides) is the one place a notebook names values."""
    nb = nbformat.read(notebook, as_version=4)
    found = {i: v for i, c in enumerate(nb.cells) if c.cell_type == "code"
             and "parameters" not in c.metadata.get("tags", []) and (v := _typed_in_sweeps(c.source))}
    assert found == {}, f"{notebook.name}: values typed in {found}"
