"""`identify reproduce`: the shipped reproductions, their quick settings and the CLI."""

from __future__ import annotations

import json
import math
import time

import pytest

from identify.cli import main
from identify.errors import ConfigError
from identify.numeric.reproduce import REPRODUCTIONS, format_reproduction, reproduce


def test_the_reproductions_state_the_papers_figures():
    sg = REPRODUCTIONS["softmax-gaussian"]
    slopes = {c.label: c.slope for c in sg.claims}
    assert slopes["D1 (k = 2)"] == -0.5
    assert slopes["over:beta1 (k = 3)"] == slopes["over:b (k = 3)"] == -0.125
    assert slopes["over:a (k = 3)"] == slopes["over:nu (k = 3)"] == -0.25
    assert slopes["exact:a (k = 3)"] == -0.5
    lg = REPRODUCTIONS["laplace-gaussian"]
    assert [c.slope for c in lg.claims] == [-0.49, -0.47]
    sr = REPRODUCTIONS["shared-routed"]
    assert [c.slope for c in sr.claims] == [0.451, 0.517, 0.46, 0.552]
    assert "shared expert" in sr.missing


def test_an_inexpressible_setup_says_what_is_missing_and_runs_nothing():
    res = reproduce("shared-routed")
    assert res.rows == () and res.seconds == 0.0
    text = format_reproduction(res)
    assert "not expressible" in text and "shared expert" in text and "0.517" in text


def test_unknown_reproduction_is_one_error_line(capsys):
    with pytest.raises(ConfigError, match="unknown reproduction"):
        reproduce("nope")
    assert main(["reproduce", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


def test_cli_lists_the_reproductions(capsys):
    assert main(["reproduce", "--list"]) == 0
    out = capsys.readouterr().out
    for name, arxiv in (("softmax-gaussian", "2305.03288"), ("laplace-gaussian", "2402.03226"),
                        ("shared-routed", "2505.10860")):
        assert name in out and arxiv in out


@pytest.mark.parametrize("name", ["softmax-gaussian", "laplace-gaussian"])
def test_quick_reproduction_runs_and_judges_every_claim(tmp_path, name, capsys):
    t0 = time.perf_counter()
    store = str(tmp_path / f"{name}.sqlite")
    assert main(["reproduce", name, "--store", store, "--workers", "2", "--no-progress",
                 "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    rep = REPRODUCTIONS[name]
    assert [r["quantity"] for r in d["rows"]] == [c.label for c in rep.claims]
    for row in d["rows"]:
        assert row["verdict"] in ("confirmed", "contradicted", "inconclusive")
        assert row["predicted"] == row["paper_slope"]
        # 3 replicates on 4 sizes: a verdict is allowed only if the interval is decisive
        if row["verdict"] == "confirmed":
            assert row["paper_slope"] - 0.1 <= row["ci"][0] <= row["ci"][1] <= \
                row["paper_slope"] + 0.1
    runs = {(c.init, c.fitted_k) for c in rep.claims}  # one sweep per initialisation and k
    assert sum(d["statuses"].values()) == sum(4 * (rep.cells[0] if init else 3)
                                              for init, _ in runs)
    # rerunning resumes from the store: nothing is fitted again, the table is the same
    res = reproduce(name, store=store, workers=1)
    assert [None if math.isnan(f.slope) else f.slope for _, f in res.rows] == \
        [r["slope"] for r in d["rows"]]
    assert "quantity" in format_reproduction(res) and "| paper" in format_reproduction(res)
    print(f"{name}: {time.perf_counter() - t0:.0f} s")


def test_demo_summary_says_inconclusive_with_the_reason():
    import numpy as np

    from identify.demo import PLAN, summary
    from identify.numeric.slopes import fit_slope

    ns = [100, 250, 630, 1600, 4000, 10000]
    rng = np.random.default_rng(0)
    tight = fit_slope(ns, [n ** -0.5 * rng.lognormal(0, 0.05, 30) for n in ns], -0.5,
                      quantity="D1", fitted_k=2)
    wide = fit_slope(ns, [n ** -0.25 * rng.lognormal(0, 1.0, 3) for n in ns], -0.25,
                     quantity="block over:a", fitted_k=3)
    lines = summary([("tanh(a*x+b)", (tight, wide))])
    assert any("D1" in line and line.endswith("confirmed") for line in lines)
    over = next(i for i, line in enumerate(lines) if "over:a" in line)
    assert lines[over].endswith("inconclusive") and "why:" in lines[over + 1]
    assert PLAN[2][1] >= 3 and PLAN[3][1] >= 3  # never fewer replicates than a verdict needs
    assert not any("note:" in line for line in lines)  # no function slope measured: no note
    # a confirmed regression-function slope beside an undecided block gives the note; an
    # undecided function slope does not
    function = fit_slope(ns, [n ** -0.5 * rng.lognormal(0, 0.05, 30) for n in ns], -0.5,
                         quantity="regression L2", fitted_k=3)
    lines = summary([("tanh(a*x+b)", (tight, wide, function))])
    assert any("regression function L2" in line and line.endswith("confirmed") for line in lines)
    assert lines[-1].startswith("    note:") and "larger n" in lines[-1]
    noisy = fit_slope(ns, [n ** -0.5 * rng.lognormal(0, 1.0, 3) for n in ns], -0.5,
                      quantity="regression L2", fitted_k=3)
    assert not any("note:" in line for line in summary([("f", (tight, wide, noisy))]))
