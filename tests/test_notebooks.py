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
)
CELL_TIMEOUT = 120  # seconds, per cell
NOTEBOOK_BUDGET = 60  # seconds, a whole notebook on 2 cores (reported, not asserted)


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
    print(f"{name}: {seconds:.1f} s (budget {NOTEBOOK_BUDGET} s on 2 cores)")
