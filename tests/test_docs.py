"""The documentation site builds with ``mkdocs build --strict`` and says what the code does.

``--strict`` (with the ``validation`` settings in mkdocs.yml) turns every warning into a
failure: a broken link or anchor, a page missing from the nav, an unresolved API
cross-reference, a docstring griffe cannot parse. The build needs mkdocs and
mkdocstrings[python] from the test extras; without them these tests fail, they do not skip.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
INSTALL_HINT = ("the documentation tests need mkdocs and mkdocstrings[python]: install the "
                "test extras, e.g. `.venv/bin/pip install -e '.[test]'` (or run `make test`)")
API_DOCSTRING = "Analyse the gate-times-expert family"  # identify.symbolic.check.check


def _missing_tools() -> list[str]:
    names = {"mkdocs": "mkdocs", "mkdocstrings": "mkdocstrings",
             "mkdocstrings_handlers.python": "mkdocstrings-python", "yaml": "pyyaml",
             "pymdownx": "pymdown-extensions", "latex2mathml": "latex2mathml",
             "nbclient": "nbclient"}
    missing = []
    for module, dist in names.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:  # parent package missing
            found = False
        if not found:
            missing.append(dist)
    return missing


@dataclass(frozen=True)
class Build:
    returncode: int
    output: str
    site: Path
    seconds: float
    warm: bool  # every notebook's executed outputs were cached before the build


def _notebooks_cached() -> bool:
    import importlib.util

    spec = importlib.util.spec_from_file_location("identify_docs_notebooks",
                                                  DOCS / "_hooks" / "notebooks.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    return all(hook.cached_path(p).is_file() for p in (ROOT / "notebooks").glob("*.ipynb"))


def _run_build(site: Path) -> tuple[subprocess.CompletedProcess, float]:
    """Build into ``site``; returns the process and its CPU time (user + system), which does
    not depend on how busy the machine is (the wall time on a shared machine does)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT, capture_output=True, text=True, timeout=900)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return proc, cpu


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Build | None:
    """One strict build per test session, into a temporary folder (None: tools missing)."""
    if _missing_tools():
        return None
    site = tmp_path_factory.mktemp("site")
    warm = _notebooks_cached()
    proc, seconds = _run_build(site)
    return Build(proc.returncode, proc.stdout + proc.stderr, site, seconds, warm)


def _built(build: Build | None) -> Build:
    if build is None:
        pytest.fail(f"{INSTALL_HINT}; missing: {', '.join(_missing_tools())}", pytrace=False)
    if build.returncode != 0:
        pytest.fail(f"mkdocs build --strict failed (exit code {build.returncode}):\n"
                    f"{build.output}", pytrace=False)
    return build


def _nav_pages() -> list[str]:
    import yaml

    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text("utf-8"))

    def walk(items) -> list[str]:
        pages = []
        for item in items:
            value = next(iter(item.values())) if isinstance(item, dict) else item
            pages += walk(value) if isinstance(value, list) else [value]
        return pages

    return walk(config["nav"])


def _html_path(site: Path, page: str) -> Path:
    """Where mkdocs writes a page with directory URLs (the default)."""
    stem = page.removesuffix(".md")
    if stem == "index" or stem.endswith("/index"):
        return site / f"{stem}.html"
    return site / stem / "index.html"


def test_documentation_tools_are_installed():
    assert not _missing_tools(), INSTALL_HINT


def test_site_builds_with_strict_in_under_30_seconds(build, tmp_path):
    """Once the notebooks' outputs are cached (tests/test_notebooks.py fills the cache; a cold
    build executes them), the build takes under 30 s of CPU time."""
    b = _built(build)
    assert (b.site / "index.html").is_file()
    seconds = b.seconds
    if not b.warm:
        proc, seconds = _run_build(tmp_path / "again")
        assert proc.returncode == 0, proc.stdout + proc.stderr
    assert seconds < 30, f"the docs build took {seconds:.1f} s of CPU with the notebooks cached"


def test_every_nav_page_exists_and_is_built(build):
    b = _built(build)
    pages = _nav_pages()
    for required in ("index.md", "getting-started.md", "theory.md", "architecture.md",
                     "performance.md", "api/index.md"):
        assert required in pages
    for page in pages:
        if page.startswith("notebooks/"):  # generated from notebooks/*.ipynb at build time
            source = ROOT / page.replace(".md", ".ipynb")
            assert source.is_file(), f"nav page {page} has no notebook {source.name}"
        else:
            assert (DOCS / page).is_file(), f"nav page {page} is not in docs/"
        assert _html_path(b.site, page).is_file(), f"nav page {page} was not built"


def test_api_reference_shows_the_docstrings(build):
    b = _built(build)
    html = _html_path(b.site, "api/symbolic.md").read_text("utf-8")
    assert API_DOCSTRING in html
    assert 'id="identify.symbolic.check.check"' in html  # an anchor other pages link to
    # numpy sections are parsed into tables, not shown as raw "Parameters\n----------"
    assert "----------" not in html
    # Sphinx roles are rendered as code by docs/_hooks/sphinx_roles.py
    assert not re.search(r":(class|func|meth|data):<code>", html)


def test_math_is_typeset_as_mathml(build):
    b = _built(build)
    page = _html_path(b.site, "api/results.md").read_text("utf-8")
    assert page.count("<math") >= 5 and "arithmatex" not in page
    assert "<mfrac>" in page


@pytest.mark.parametrize("page", ["theory.md", "rates-derivation.md", "theory-solvability.md",
                                  "symbolic.md", "simulate.md"])
def test_math_pages_have_mathml_and_no_raw_tex(build, page):
    """The math-heavy pages write LaTeX math, typeset as MathML at build time: no delimiter,
    no TeX command and no ASCII formula (``g^(1)_(i1)``, ``n^-1/2``) is left in the text."""
    b = _built(build)
    html = _html_path(b.site, page).read_text("utf-8")
    body = html[html.index('role="main"'):].split('id="mkdocs_search_modal"')[0]  # the page's text
    text = re.sub(r"<math\b.*?</math>|<code>.*?</code>|<pre\b.*?</pre>", "", body, flags=re.S)
    assert body.count("<math") >= 10 and "arithmatex" not in body
    for raw in ("$", "\\frac", "\\sum", "\\partial", "\\(", "\\["):
        assert raw not in text, f"{page}: raw {raw!r} outside MathML"
    assert not re.search(r"\w\^[-(]|\bn\^|_\(", text), f"{page}: an ASCII formula is left"
    unknown = re.search(r">[^<]*\\[A-Za-z]+[^<]*<", "".join(re.findall(r"<math\b.*?</math>", body, re.S)))
    assert unknown is None, f"{page}: a TeX command latex2mathml did not translate: {unknown.group(0)}"
    if page == "theory.md":
        assert "<mfrac>" in body and "<msubsup>" in body  # fractions, g^{(1)}_{i_1}


def test_notebooks_are_pages_with_their_outputs(build):
    b = _built(build)
    pages = [p for p in _nav_pages() if p.startswith("notebooks/")]
    assert len(pages) == len(list((ROOT / "notebooks").glob("*.ipynb")))
    rich = _html_path(b.site, "notebooks/06_rich_results.md").read_text("utf-8")
    assert 'class="nb-output"' in rich and "<math" in rich  # the results' rich displays
    assert 'src="data:image/png;base64,' in rich  # the figure, inline
    assert "strongly identifiable" in rich


def test_site_loads_nothing_from_the_network(build):
    b = _built(build)
    remote = re.compile(r"<(script|link|img)\b[^>]*\b(src|href)=\"(https?:)?//", re.I)
    for path in b.site.rglob("*.html"):
        match = remote.search(path.read_text("utf-8"))
        assert match is None, f"{path.relative_to(b.site)} loads {match.group(0)!r}"


# -- the docs say what the code does (no mkdocs needed) -----------------------------------

def test_the_truth_file_example_in_the_docs_loads(tmp_path):
    from identify.numeric.truth import load_truth_file

    text = (DOCS / "guide" / "config.md").read_text("utf-8")
    examples = re.findall(r"```toml\n(.*?)```", text, flags=re.S)
    assert examples
    for i, example in enumerate(examples):
        path = tmp_path / f"example{i}.toml"
        path.write_text(example, "utf-8")
        model, truth, sweep = load_truth_file(path)
        assert truth.k == len(re.findall(r"^\[\[atoms\]\]", example, flags=re.M))


def test_the_docs_list_every_preset():
    from identify.numeric.truth import preset_names

    text = (DOCS / "guide" / "presets.md").read_text("utf-8")
    for name in preset_names():
        assert f"`{name}`" in text, f"preset {name} is not described in docs/guide/presets.md"


def test_the_theory_page_lists_every_registry_row():
    from identify.theory.registry import REGISTRY

    text = (DOCS / "theory.md").read_text("utf-8")
    for row in REGISTRY:
        assert f"`{row.key}`" in text, f"registry row {row.key} is not in docs/theory.md"
