"""Cell systems (theory/system.py) and `identify system` (issue 9 section 1)."""

from __future__ import annotations

import json

import pytest
import sympy

from identify.cli import main
from identify.model.model import build_model
from identify.theory.expansion import expand_model
from identify.theory.system import cell_system


@pytest.fixture(scope="module")
def tanh_expansion():
    return expand_model(build_model("tanh(a*x+b)"), 4)


def test_level_two_system_of_the_tanh_ridge_is_the_squares_and_products(tanh_expansion):
    s = cell_system(tanh_expansion, 2, 2)
    per_atom = {sympy.sstr(s.per_atom(f)) for f in s.forms}
    assert {"dbeta1", "da", "db", "dbeta1**2", "da**2", "db**2"} <= per_atom
    assert all(f.degree in (1, 2) for f in s.forms)
    w1, w2 = s.weights
    assert any(e == sympy.expand(w1 * s.deltas[0][1] ** 2 + w2 * s.deltas[1][1] ** 2)
               for e in s.equations)


def test_levels_are_nested(tanh_expansion):
    small = set(cell_system(tanh_expansion, 2, 2).equations)
    big = set(cell_system(tanh_expansion, 2, 3).equations)
    assert small <= big and len(big) > len(small)


def test_a_grading_moves_a_block_to_a_higher_degree():
    exp = expand_model(build_model("a*x+b", estimator="gaussian"), 4)
    s = cell_system(exp, 2, 4, {"a": 2, "nu": 2})
    assert all(max(sum(k * w for k, w in zip(a, (1, 2, 1, 2), strict=True)) for a, _ in f.terms)
               == f.degree for f in s.forms)
    # P4, dF/da = d2F/(dbeta1 db): da + dbeta1 db is an initial form; P5, the heat equation
    # d2N/db2 = 2 dN/dnu: db^2 + dnu (the r-bar system's l = 2 equation, s2 = dnu / 2)
    da, db, dbeta1, dnu = sympy.symbols("da db dbeta1 dnu")
    forms = {s.per_atom(f) for f in s.forms}
    assert da + dbeta1 * db in forms and db ** 2 + dnu in forms


def test_cli_prints_the_system_as_text_json_and_latex(capsys):
    assert main(["system", "tanh(a*x+b)", "--cell", "2", "--order", "4"]) == 0
    out = capsys.readouterr().out
    assert "cell of 2 atom(s), level 4" in out and "db_1**2*w1 + db_2**2*w2 = 0" in out
    assert main(["system", "tanh(a*x+b)", "--cell", "2", "--order", "2", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["cell_size"] == 2 and d["level"] == 2 and len(d["equations"]) == 8
    assert main(["system", "tanh(a*x+b)", "--order", "2", "--latex"]) == 0
    assert capsys.readouterr().out.startswith("\\begin{aligned}")


@pytest.mark.parametrize("argv, words", [
    (["system", "tanh(a*x+b)", "--grading", "q=2"], "unknown block"),
    (["system", "tanh(a*x+b)", "--grading", "a=0"], "weights >= 1"),
    (["system", "tanh(a*x+b)", "--order", "9"], "order"),
    (["system", "tanh(a*x+b)", "--cell", "0"], "cell size"),
    (["system"], "formula"),
])
def test_bad_input_is_one_error_line(capsys, argv, words):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and words in err and "Traceback" not in err


def test_the_key_is_the_span_and_the_polys_are_the_equations(tanh_expansion):
    import dataclasses

    from identify.theory.system import InitialForm

    s = cell_system(tanh_expansion, 2, 3)
    gens = tuple(s.weights) + s.all_deltas
    assert [sympy.Poly(e, *gens, domain=sympy.QQ) for e in s.equations] == list(s.polys)
    # another basis of the same span: f0 + 2 f1 in place of f0, the rest reversed
    f0, f1 = s.forms[0], s.forms[1]
    mixed = dict(f0.terms)
    for a, c in f1.terms:
        mixed[a] = mixed.get(a, 0) + 2 * c
    other = (InitialForm(f0.degree, tuple((a, c) for a, c in mixed.items() if c != 0)),
             *reversed(s.forms[1:]))
    assert dataclasses.replace(s, forms=other).key() == s.key()
    # a smaller span (one equation dropped) is another system
    assert dataclasses.replace(s, forms=s.forms[1:]).key() != s.key()
