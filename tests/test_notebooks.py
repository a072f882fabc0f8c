"""The teaching notebooks in notebooks/: committed clean, and each runs top to bottom.

Each notebook is executed with nbclient in a fresh kernel (``python3``: the ipykernel of the
interpreter running the tests), with a temporary working directory, 120 s per cell.
"""

from __future__ import annotations

import time
from pathlib import Path

import ipykernel  # noqa: E402,F401  (the test extras install nbclient, nbformat, ipykernel)
import nbclient  # noqa: E402
import nbformat  # noqa: E402
import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = (
    "01_strong_identifiability.ipynb",
    "02_linear_experts_pde.ipynb",
    "03_gating_variants.ipynb",
    "04_confirming_rates.ipynb",
    "05_check_your_own_expert.ipynb",
    "06_rich_results.ipynb",
)
RICH = "06_rich_results.ipynb"
_EXECUTED: dict = {}  # name -> executed notebook (the rich-display test reads the outputs)
CELL_TIMEOUT = 120  # seconds, per cell
ROOT = NOTEBOOK_DIR.parent
NOTEBOOK_BUDGET = 120  # seconds, a whole notebook on 2 cores (reported, not asserted)


def _ids(name: str) -> str:
    return name.removesuffix(".ipynb")


def _read(name: str):
    return nbformat.read(NOTEBOOK_DIR / name, as_version=4)


def _kernel_manager():
    """A manager for the ipykernel of *this* interpreter (the venv that has identify).

    ``kernel_dirs=[]`` hides kernelspecs registered elsewhere (a ``python3`` kernel of another
    Python would not import identify); the native ``python3`` spec of ipykernel remains.
    """
    from jupyter_client.kernelspec import NATIVE_KERNEL_NAME, KernelSpecManager
    from jupyter_client.manager import KernelManager

    return KernelManager(kernel_name=NATIVE_KERNEL_NAME,
                         kernel_spec_manager=KernelSpecManager(kernel_dirs=[]))


def _docs_hook():
    """docs/_hooks/notebooks.py (the docs build's notebook pages and their cache)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("identify_docs_notebooks",
                                                  ROOT / "docs" / "_hooks" / "notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_notebook_is_tested():
    assert sorted(p.name for p in NOTEBOOK_DIR.glob("*.ipynb")) == sorted(NOTEBOOKS)


@pytest.mark.parametrize("name", NOTEBOOKS, ids=_ids)
def test_notebook_is_committed_clean(name):
    nb = _read(name)
    nbformat.validate(nb)
    assert nb.nbformat == 4
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    assert nb.cells and nb.cells[0].cell_type == "markdown"
    assert nb.cells[0].source.lstrip().startswith("# "), "the first cell is the title"
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        assert cell.get("outputs") == [], f"cell {i} of {name} has outputs"
        assert cell.get("execution_count") is None, f"cell {i} of {name} has an execution count"
        assert "execution" not in cell.get("metadata", {}), f"cell {i} of {name} has timings"


@pytest.mark.parametrize("name", NOTEBOOKS, ids=_ids)
def test_notebook_runs_top_to_bottom(name, tmp_path, monkeypatch):
    nb = _read(name)
    workdir, scratch = tmp_path / "work", tmp_path / "tmp"
    workdir.mkdir()
    scratch.mkdir()
    # the kernel inherits the environment: its tempfile.mkdtemp() folders land under tmp_path
    monkeypatch.setenv("TMPDIR", str(scratch))
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        km=_kernel_manager(),
        resources={"metadata": {"path": str(workdir)}},  # the kernel's working directory
    )
    start = time.perf_counter()
    # cleanup_kc: shut the kernel down afterwards (nbclient does so by default only for managers
    # it created itself)
    client.execute(cleanup_kc=True)  # raises CellExecutionError (with the traceback) on failure
    seconds = time.perf_counter() - start
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.get("output_type") == "error"]
    assert not errors, errors
    # the notebooks write only to their own temporary directories, never to the working directory
    assert list(workdir.iterdir()) == [], sorted(p.name for p in workdir.iterdir())
    _EXECUTED[name] = nb
    _docs_hook().store(NOTEBOOK_DIR / name, nb)  # the docs build renders these outputs
    print(f"{name}: {seconds:.1f} s (budget {NOTEBOOK_BUDGET} s on 2 cores)")


def _outputs(nb, index: int) -> list:
    return [o for o in nb.cells[index].get("outputs", [])]


def test_rich_displays_render_in_the_executed_notebook(tmp_path, monkeypatch):
    """The results display themselves: HTML with MathML relations, DataFrame tables, a figure."""
    nb = _EXECUTED.get(RICH)
    if nb is None:  # run alone: execute it here
        test_notebook_runs_top_to_bottom(RICH, tmp_path, monkeypatch)
        nb = _EXECUTED[RICH]
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]

    def rich(i: int, mime: str) -> str:
        found = [o["data"][mime] for o in _outputs(nb, i) if o.get("output_type") ==
                 "execute_result" and mime in o.get("data", {})]
        assert found, f"cell {i} has no {mime} output: {_outputs(nb, i)}"
        return found[0]

    check_html = rich(code[0], "text/html")
    assert "<math" in check_html and "strongly identifiable" in check_html
    assert "&#8706;" in check_html  # the relation's partial derivatives, as MathML
    assert "<CheckResult" in rich(code[0], "text/plain")  # the one-line repr
    assert len(rich(code[0], "text/plain")) < 200
    assert "dF/da = d2F/(dbeta_1 db)" in rich(code[3], "text/html")  # relations_frame()
    steps = "".join(o.get("text", "") for o in _outputs(nb, code[4]))
    assert steps.rstrip().endswith(": 0")  # proof steps end in 0
    assert "<msup><mi>n</mi>" in rich(code[5], "text/html")  # the prediction's rates as math
    sim_html = rich(code[7], "text/html")
    assert "<svg" in sim_html and "Simulation" in sim_html
    figure = _outputs(nb, code[10])
    assert any("image/png" in o.get("data", {}) for o in figure), figure
    report_html = rich(code[12], "text/html")
    assert "<details>" in report_html and "Conclusion" in report_html
