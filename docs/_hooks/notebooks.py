"""MkDocs hook: the notebooks in notebooks/ become pages of the site, with their outputs.

At build time each notebook is executed top to bottom (nbclient, a fresh ``python3`` kernel of
this interpreter, a temporary working directory) and rendered to Markdown: markdown cells as
they are, code as Python blocks, outputs as text, HTML (the results' rich displays, pandas
tables) or inline PNG images (``data:`` URIs: nothing is loaded from anywhere).

Executed notebooks are cached in ``.cache/notebooks/`` under a key of the notebook's content
and identify's source files, so an unchanged notebook is executed once per code version.
``tests/test_notebooks.py`` fills the same cache when it executes the notebooks.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
CACHE = ROOT / ".cache" / "notebooks"
PAGE_DIR = "notebooks"


def source_key(path: Path) -> str:
    """A hash of the notebook and of every source file of the identify package."""
    h = hashlib.sha256(path.read_bytes())
    for src in sorted((ROOT / "identify").rglob("*")):
        if src.suffix in (".py", ".toml") and "__pycache__" not in src.parts:
            h.update(str(src.relative_to(ROOT)).encode())
            h.update(src.read_bytes())
    return h.hexdigest()[:20]


def cached_path(path: Path) -> Path:
    return CACHE / f"{path.stem}-{source_key(path)}.ipynb"


def kernel_manager():
    from jupyter_client.kernelspec import NATIVE_KERNEL_NAME, KernelSpecManager
    from jupyter_client.manager import KernelManager

    return KernelManager(kernel_name=NATIVE_KERNEL_NAME,
                         kernel_spec_manager=KernelSpecManager(kernel_dirs=[]))


def store(path: Path, nb) -> None:
    """Put an executed notebook in the cache (written atomically)."""
    import nbformat

    CACHE.mkdir(parents=True, exist_ok=True)
    target = cached_path(path)
    tmp = target.with_suffix(".tmp")
    nbformat.write(nb, tmp)
    os.replace(tmp, target)
    for old in CACHE.glob(f"{path.stem}-*.ipynb"):  # outputs of older code versions
        if old != target:
            old.unlink(missing_ok=True)


def executed(path: Path):
    """The notebook with its outputs: from the cache, else executed now (and cached)."""
    import nbclient
    import nbformat

    cached = cached_path(path)
    if cached.is_file():
        return nbformat.read(cached, as_version=4)
    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory(prefix="identify-docs-nb-") as work:
        old = os.environ.get("TMPDIR")
        os.environ["TMPDIR"] = work
        try:
            nbclient.NotebookClient(nb, timeout=300, km=kernel_manager(),
                                    resources={"metadata": {"path": work}}).execute(
                cleanup_kc=True)
        finally:
            if old is None:
                os.environ.pop("TMPDIR", None)
            else:
                os.environ["TMPDIR"] = old
    store(path, nb)
    return nb


def _fence(text: str, lang: str = "text") -> str:
    ticks = "````" if "```" in text else "```"
    return f"{ticks}{lang}\n{text.rstrip()}\n{ticks}\n"


def _html_block(text: str) -> str:
    # a raw HTML block ends at a blank line in Markdown: keep it in one block
    body = "\n".join(line for line in text.splitlines() if line.strip())
    return f'<div class="nb-output">\n{body}\n</div>\n'


def _output(out) -> str:
    kind = out.get("output_type")
    if kind == "stream":
        return _fence(out.get("text", ""))
    if kind == "error":
        return _fence("\n".join(out.get("traceback", [])) or out.get("evalue", ""))
    data = out.get("data", {})
    if "image/png" in data:
        return f'<img class="nb-image" alt="figure" src="data:image/png;base64,' \
               f'{"".join(data["image/png"].split())}">\n'
    if "text/html" in data:
        return _html_block(data["text/html"])
    if "text/markdown" in data:
        return data["text/markdown"] + "\n"
    if "text/plain" in data:
        return _fence(data["text/plain"])
    return ""


def to_markdown(nb, name: str) -> str:
    parts = [f"<!-- generated from notebooks/{name} by docs/_hooks/notebooks.py -->\n"]
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            parts.append(cell.source + "\n")
        elif cell.cell_type == "code":
            parts.append(_fence(cell.source, "python"))
            parts += [_output(o) for o in cell.get("outputs", [])]
    parts.append(f"\n*Executed when this site was built; the notebook is "
                 f"`notebooks/{name}` in the repository.*\n")
    return "\n".join(parts)


def on_files(files, config, **kwargs):
    from mkdocs.structure.files import File

    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        content = to_markdown(executed(path), path.name)
        files.append(File.generated(config, f"{PAGE_DIR}/{path.stem}.md", content=content))
    return files
