"""The command line end to end: output, JSON, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from identify.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-m", "identify", *args], capture_output=True,
                          text=True, env=env, timeout=300)


def test_check_prints_relation_certificate_and_verdict(capsys):
    assert main(["check", "tanh(a*x+b)"]) == 0
    out = capsys.readouterr().out
    assert "dF/da = d2F/(dbeta_1 db)" in out
    assert "Certificate: nonzero 18x18 minor" in out
    assert "Verdict: strongly identifiable" in out


def test_check_json_is_one_object_with_verdict(capsys):
    assert main(["check", "--expert", "linear", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["verdict"] == "weakly identifiable"
    assert sorted(d["zero_functions"]) == [["a", "a"], ["a", "b"], ["b", "b"]]
    assert d["conditions"] == {"strong_lse": False, "strong_mle": False, "weak": True}


def test_python_dash_m_works_and_exit_code_is_zero():
    p = run("check", "tanh(a*x)", "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["relations"] == []


@pytest.mark.parametrize("args, fragment", [
    (["check", "tanh(a*x+"], "syntax"),
    (["check", "foo(a*x)"], "unknown function 'foo'"),
    (["check", "__import__('os').system('echo pwned')"], "not allowed"),
    (["check", "x.real*a"], "attribute"),
    (["check", "tanh(a*x)", "--gate", "nope"], "unknown gate 'nope'"),
    (["check", "tanh(a*x)", "--order", "0"], "order must be an integer"),
    (["check", "tanh(a*x)", "--atoms", "99"], "atoms must be an integer"),
    (["check", "tanh(a*x)", "--dim", "0"], "dimension"),
    (["check", "--expert", "ridge-nothing"], "unknown catalog expert"),
    (["check"], "give an expert formula"),
    (["check", "tanh(x)"], "no parameters"),
    (["check", "tanh(beta1*x)"], "beta1"),
    (["check", "tanh(a*x)", "--order", "two"], "invalid int value"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_input_gives_one_line_and_exit_code_2(args, fragment, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert err.count("\n") == 1
    assert fragment in err
    assert "Traceback" not in err


def test_bad_formula_from_a_subprocess_has_no_traceback():
    p = run("check", "[x for x in ()]")
    assert p.returncode == 2
    assert p.stderr.startswith("error: ") and "Traceback" not in p.stderr
    assert p.stdout == ""


def test_catalog_lists_entries_with_formulas(capsys):
    assert main(["catalog", "--dim", "2"]) == 0
    out = capsys.readouterr().out
    assert "ridge-tanh" in out and "tanh(a1*x1 + a2*x2 + b)" in out
    assert "softmax" in out


def test_rates_prints_the_table(capsys):
    assert main(["rates", "tanh(a*x+b)", "--gate", "softmax", "--cells", "1,2"]) == 0
    out = capsys.readouterr().out
    assert "n^-1/4" in out and "n^-1/2" in out and "arXiv:" in out


def test_rates_json(capsys):
    assert main(["rates", "--expert", "linear", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["affine_directions"] and d["rates"]


def test_check_ends_with_the_prediction(capsys):
    assert main(["check", "tanh(a*x+b)"]) == 0
    assert "Predicted rates" in capsys.readouterr().out


def test_graph_export_and_plot(tmp_path, capsys):
    import networkx as nx
    g, j, png = tmp_path / "g.graphml", tmp_path / "g.json", tmp_path / "g.png"
    assert main(["check", "tanh(a*x+b)", "--graph", str(g), "--plot", str(png)]) == 0
    assert main(["check", "tanh(a*x+b)", "--graph", str(j)]) == 0
    graph = nx.read_graphml(g)
    assert graph.edges["a", "b"]["label"] == "dF/da = d2F/(dbeta_1 db)"
    assert json.loads(j.read_text())["edges"]
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("args, fragment", [
    (["rates", "tanh(a*x)", "--cells", "0,2"], "cell sizes must be >= 1"),
    (["check", "tanh(a*x)", "--gate", "top-k:k=9,experts=4"], "K <= experts"),
    (["check", "tanh(tau*x)", "--gate", "temperature"], "tau"),
    (["check", "tanh(a*x)", "--graph", "g.txt"], ".graphml"),
    (["check", "tanh(a*x)", "--estimator", "bayes"], "unknown estimator"),
])
def test_issue3_bad_input_exit_code_2(args, fragment, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and fragment in err
