"""The notebooks' bookkeeping: each `.ipynb` is stored with its outputs, paired with a py:percent
twin holding the same cells, reads GENDIFF_QUICK, and is linked from the README. (pytest runs the
notebooks themselves through nbmake: see notebooks/conftest.py.)"""

from __future__ import annotations

import pathlib

import jupytext
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))


def code_cells(notebook) -> list[str]:
    return [cell.source.strip() for cell in notebook.cells if cell.cell_type == "code"]


def pairing_problems(ipynb: pathlib.Path) -> list[str]:
    """What is wrong with one stored notebook and its twin (empty when nothing is)."""
    twin = ipynb.with_suffix(".py")
    if not twin.exists():
        return [f"{ipynb.name} has no py:percent twin {twin.name}"]
    stored, text = jupytext.read(ipynb), jupytext.read(twin)
    problems = []
    if code_cells(stored) != code_cells(text):
        problems.append(
            f"{ipynb.name} and {twin.name} hold different code cells: re-sync them "
            f"(jupytext --to ipynb --update --execute {twin.name})"
        )
    cells = [cell for cell in stored.cells if cell.cell_type == "code"]
    if not cells or "GENDIFF_QUICK" not in cells[0].source:
        problems.append(f"{ipynb.name}: the first code cell must read GENDIFF_QUICK")
    if any(cell.get("execution_count") is None for cell in cells):
        problems.append(f"{ipynb.name} is stored with unexecuted cells")
    outputs = [output for cell in cells for output in cell.get("outputs", [])]
    if not any("image/png" in output.get("data", {}) for output in outputs):
        problems.append(f"{ipynb.name} is stored without a picture")
    if any(output.get("output_type") == "error" for output in outputs):
        problems.append(f"{ipynb.name} is stored with an error output")
    return problems


def test_the_notebooks_exist():
    assert len(NOTEBOOKS) >= 1, f"no numbered notebooks in {NOTEBOOK_DIR}"


@pytest.mark.parametrize("ipynb", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_is_stored_executed_and_paired(ipynb):
    assert pairing_problems(ipynb) == []


@pytest.mark.parametrize("ipynb", NOTEBOOKS, ids=lambda path: path.stem)
def test_readme_links_the_notebook(ipynb):
    assert f"notebooks/{ipynb.name}" in (ROOT / "README.md").read_text()


def test_pairing_check_catches_an_edited_twin(tmp_path):
    if not NOTEBOOKS:
        pytest.skip("no notebooks")
    source = NOTEBOOKS[0]
    copy = tmp_path / source.name
    copy.write_text(source.read_text())
    twin = jupytext.read(source.with_suffix(".py"))
    next(cell for cell in twin.cells if cell.cell_type == "code").source += "\nx = 1"
    jupytext.write(twin, copy.with_suffix(".py"), fmt="py:percent")
    assert any("different code cells" in p for p in pairing_problems(copy))
    copy.with_suffix(".py").unlink()
    assert any("no py:percent twin" in p for p in pairing_problems(copy))
