"""Every notebook under notebooks/ runs top to bottom at SCALE="smoke" under papermill.

Parametrised over the folder, so a new notebook is tested without editing this file.
"""
from pathlib import Path

import nbformat
import papermill as pm
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found under notebooks/"


@pytest.mark.notebook
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_at_smoke_scale(notebook, tmp_path, monkeypatch):
    monkeypatch.setenv("LTHLIB_PROGRESS", "0")
    figures = tmp_path / "figures"
    out = tmp_path / notebook.name
    pm.execute_notebook(str(notebook), str(out), cwd=str(notebook.parent), progress_bar=False,
                        execution_timeout=600,  # a stuck kernel fails the test, never hangs CI
                        parameters={"SCALE": "smoke", "RESULTS_DIR": str(tmp_path / "results"),
                                    "FIGURES_DIR": str(figures)})
    executed = nbformat.read(out, as_version=4)
    outputs = [o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert images, "the notebook drew no figure"
    assert list(figures.glob("*.png")), "FIGURES_DIR was set but no figure was saved"


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
