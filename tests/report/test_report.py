"""Derivation reports: content, formats, and a real render in headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from identify import check
from identify.cli import main
from identify.numeric.simulate import simulate
from identify.report import build_report, render

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    store = str(out / "r.sqlite")
    simulate("tanh(a*x+b)", store=store, fitted_ks=(2, 3), ns=[200, 600, 2000], replicates=3,
             progress=False)
    code = main(["report", "tanh(a*x+b)", "--gate", "softmax", "--store", store,
                 "--out", str(out)])
    assert code == 0
    return out


def test_report_files_are_written(report_dir):
    for name in ("report.html", "report.md", "report.tex", "interaction-graph.svg",
                 "rates.svg", "rates.png"):
        assert (report_dir / name).stat().st_size > 0, name


def test_html_is_self_contained_mathml_without_javascript(report_dir):
    page = (report_dir / "report.html").read_text()
    assert "<script" not in page.lower()
    assert not re.search(r'(src|href)="(https?:)?//', page)  # no CDN, nothing remote
    assert page.count("<math") >= 10 and "<mfrac>" in page
    assert page.count("<svg") >= 2  # the graph and the rates figure inlined
    for section in ("The model", "The derivative family", "Zero functions", "Relations (PDEs)",
                    "Certificate", "The literal conditions", "Verdict", "Parameter interactions",
                    "Predicted rates", "Simulation", "Conclusion"):
        assert f">{section}" in page, section
    assert "Strongly identifiable" in page and "arXiv:2503.03213" in page
    # every fit status is counted, and the page says which entered the slopes
    assert re.search(r"18 fits: \d+ converged, \d+ local, \d+ budget, \d+ failed; the slopes "
                     r"use the \d+ converged fits", page), page
    assert any(v in page for v in ("confirmed", "contradicted", "inconclusive"))


def test_markdown_and_latex_carry_the_same_relation(report_dir):
    md = (report_dir / "report.md").read_text()
    tex = (report_dir / "report.tex").read_text()
    assert "$$" in md and r"\frac{\partial}{\partial a}" in md
    assert tex.startswith(r"\documentclass") and tex.rstrip().endswith(r"\end{document}")
    assert r"\frac{\partial}{\partial a}" in tex
    assert tex.count("{") == tex.count("}")
    assert r"\includegraphics" in tex


def test_report_without_store_says_how_to_get_measurements(tmp_path):
    rep = build_report(check("a*x+b"), figure_dir=str(tmp_path))
    md = render(rep, "md")
    assert "No measurement" in md and "identify simulate" in md
    assert "not consistent along a" in md  # the affine warning with its proof


def test_report_from_a_store_of_another_model_says_so(report_dir, tmp_path):
    rep = build_report(check("tanh(a*x)"), store=str(report_dir / "r.sqlite"),
                       figure_dir=str(tmp_path))
    assert rep.simulation is None and "no sweep of this model" in rep.notes[0]


def test_report_bad_input(tmp_path, capsys):
    assert main(["report", "tanh(a*x+b)", "--store", str(tmp_path / "none.sqlite"),
                 "--out", str(tmp_path)]) == 2
    assert "no results store" in capsys.readouterr().err


def _chromium(url: str, png: str, profile: str, size: str = "1200,3000") -> str:
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
           f"--window-size={size}", f"--screenshot={png}", url]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert os.path.exists(png), p.stderr[-2000:]
    return p.stderr


def _ink_rows(png: str):
    import numpy as np
    from matplotlib.image import imread

    img = imread(png)[..., :3]
    dark = (img.mean(axis=2) < 0.6)
    return np.flatnonzero(dark.any(axis=1)), dark


def test_html_renders_in_headless_chromium_with_mathml_and_no_console_errors(report_dir,
                                                                             tmp_path):
    assert CHROMIUM, "needs Debian's chromium: `make test` installs it (apt-get install chromium)"
    page = report_dir / "report.html"
    log = _chromium(page.as_uri(), str(tmp_path / "page.png"), str(tmp_path / "p1"))
    console = [line for line in log.splitlines() if ":CONSOLE" in line]
    assert console == []
    rows, dark = _ink_rows(str(tmp_path / "page.png"))
    assert dark.mean() > 0.01  # the page is not blank
    # MathML renders as two-dimensional math: the relation's fractions are taller than a
    # line of text. Render the first relation alone and measure its ink height.
    html = page.read_text()
    relation = re.findall(r'<div class="math">(.*?)</div>', html, flags=re.S)[2]
    solo = tmp_path / "solo.html"
    solo.write_text(f'<!DOCTYPE html><html><body style="margin:0;font-size:20px">'
                    f"{relation}</body></html>")
    _chromium(solo.as_uri(), str(tmp_path / "solo.png"), str(tmp_path / "p2"), "800,300")
    rows, _ = _ink_rows(str(tmp_path / "solo.png"))
    assert rows.size and rows.max() - rows.min() > 30  # a fraction, not flat text


def test_mathml_puts_the_order_on_the_variable(report_dir):
    page = (report_dir / "report.html").read_text()
    # the second derivative in beta_1: d^2 / (d beta_1^2), never d^2 / d^2 beta_1
    second = ("<mo>&#8706;</mo><msup><msub><mi>&#946;</mi><mi>1</mi></msub><mn>2</mn></msup>")
    assert second in page
    assert "<mrow><msup><mo>&#8706;</mo><mn>2</mn></msup><msub><mi>" not in page


def test_rates_are_math_in_markdown_and_latex(report_dir):
    md = (report_dir / "report.md").read_text()
    tex = (report_dir / "report.tex").read_text()
    assert "$n^{-1/4}$" in md and "$n^{-1/2}$" in md and "n^-1/4" not in md.split("## Conclusion")[0]
    assert "$n^{-1/4}$" in tex


def test_relations_carry_their_proof_steps_folded(report_dir):
    page = (report_dir / "report.html").read_text()
    assert page.count("<details>") >= 1
    details = page.split("<details>", 1)[1].split("</details>", 1)[0]
    assert "step by step" in details and "Step 1" in details and "<mn>0</mn>" in details
    md = (report_dir / "report.md").read_text()
    assert "<details><summary>Proof of R1, step by step</summary>" in md


def test_the_report_ends_with_a_conclusion_tying_the_chain(report_dir):
    md = (report_dir / "report.md").read_text()
    conclusion = md.split("## Conclusion", 1)[1]
    assert "Proved: the model is strongly identifiable" in conclusion
    assert "Predicted (softmax-lse-strong)" in conclusion and "$n^{-1/4}$" in conclusion
    assert "Measured:" in conclusion and "Agreement:" in conclusion
    no_store = render(build_report(check("a*x+b"), figure_dir=None), "md")
    assert "Measured: nothing" in no_store.split("## Conclusion", 1)[1]


def test_report_object_writes_and_displays_itself(tmp_path):
    import identify

    rep = identify.report("tanh(a*x+b)", figure_dir=str(tmp_path / "figs"))
    assert "\n" not in repr(rep) and "strongly identifiable" in repr(rep)
    written = rep.write(str(tmp_path / "out"))
    assert set(written) == {"html", "md", "tex"}
    assert "<!DOCTYPE" not in rep._repr_html_() and "<math" in rep._repr_html_()
    assert str(rep).lstrip().startswith("# Identifiability of tanh(a\\*x+b)")  # Markdown-escaped


def test_screenshot_of_the_report_in_headless_chromium(report_dir, tmp_path):
    """The HTML report renders in a real browser (a screenshot is taken and is not blank) and
    the rates figure inside it keeps its legends off the data (checked on the figure's
    geometry in tests/numeric/test_plots_layout.py)."""
    assert CHROMIUM, "needs Debian's chromium: `make test` installs it (apt-get install chromium)"
    png = tmp_path / "report.png"
    _chromium((report_dir / "report.html").as_uri(), str(png), str(tmp_path / "p3"),
              "1200,6000")
    _rows, dark = _ink_rows(str(png))
    assert dark.mean() > 0.01


def test_fit_counts_name_every_status_and_what_entered():
    from types import SimpleNamespace

    from identify.report.measured import fit_counts

    sim = SimpleNamespace(statuses={"converged": 5, "budget": 2, "local": 1}, tasks=8,
                          used=("converged",), entered=5)
    assert fit_counts(sim) == ("8 fits: 5 converged, 1 local, 2 budget, 0 failed; the slopes "
                               "use the 5 converged fits, the 3 local and budget ones are left "
                               "out")
    sim = SimpleNamespace(statuses={"converged": 4}, tasks=4, used=("converged",), entered=4)
    assert fit_counts(sim) == "4 fits: 4 converged, 0 local, 0 budget, 0 failed; the slopes use " \
        "the 4 converged fits"


def test_predicted_rates_say_how_the_registry_row_was_chosen(report_dir):
    md = (report_dir / "report.md").read_text()
    assert "Expert matched" not in md
    # the text around math keeps its spaces
    assert "converges like $n^{-1/(2e)}$." in md
    assert "beta1: $n^{-1/2}$ exact-fitted, $n^{-1/4}$ over-fitted" in md
    assert "Registry row chosen by the derived verdict (strongly identifiable)" in md


def test_report_of_a_store_with_several_sweeps_analyses_one_and_names_the_rest(report_dir,
                                                                               tmp_path, capsys):
    from identify.numeric.fit import FitSettings
    from identify.numeric.store import ResultStore

    store = tmp_path / "many.sqlite"
    shutil.copyfile(report_dir / "r.sqlite", store)  # the fixture's sweep: 18 tasks
    other = simulate("tanh(a*x+b)", store=str(store), fitted_ks=(2,), ns=[200], replicates=2,
                     settings=FitSettings(restarts=1), progress=False)  # other fit settings
    simulate("a*x+b", store=str(store), fitted_ks=(2,), ns=[200], replicates=1, progress=False)
    with ResultStore(store, readonly=True) as st:
        counts = st.counts()
    main_id = max(counts, key=counts.get)
    assert sorted(counts.values()) == [1, 2, 18]
    rep = build_report(check("tanh(a*x+b)"), store=str(store), figure_dir=str(tmp_path / "f"))
    sim = rep.simulation
    assert sim.sweep == main_id and sim.tasks == 18 and (sim.fitted_ks, sim.ns) == (
        (2, 3), (200, 600, 2000))
    assert sim.replicates == sim.min_replicates == 3
    assert len(sim.others) == 2
    assert f"sweep {other.spec.sweep_id} of this model (2 tasks; differs in fit" in sim.others[0]
    assert sim.others[1] == "1 sweep of other models (1 task)"
    md = render(rep, "md")
    assert "The store also holds" in md and other.spec.sweep_id in md
    assert any(f"analyses sweep {main_id} only" in n for n in rep.notes)
    # the other sweep of this model, chosen by id: its 2 tasks only
    rep2 = build_report(check("tanh(a*x+b)"), store=str(store), sweep=other.spec.sweep_id,
                        figure_dir=str(tmp_path / "g"))
    assert rep2.simulation.tasks == 2 and rep2.simulation.ns == (200,)
    assert any(main_id in o and "18 tasks" in o for o in rep2.simulation.others)
    # on the command line: the note, and a sweep that is not there is one error line
    capsys.readouterr()
    assert main(["report", "tanh(a*x+b)", "--store", str(store), "--out",
                 str(tmp_path / "out")]) == 0
    assert f"also holds sweep {other.spec.sweep_id}" in capsys.readouterr().out
    assert main(["report", "tanh(a*x+b)", "--store", str(store), "--sweep", "nope",
                 "--out", str(tmp_path / "out2")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "no sweep 'nope'" in err
    assert not (tmp_path / "out2").exists()
