"""docs/theory.md's table of derived exponents says what `predict` says."""

from __future__ import annotations

from pathlib import Path

import pytest

from identify.model.catalog import CATALOG
from identify.theory.table import _registry_exponent, doc_rows, table_rows

PAGE = Path(__file__).resolve().parents[2] / "docs" / "theory.md"


def test_registry_rate_texts_become_exponents():
    assert _registry_exponent("n^-1/8 (r~(2) = 4)") == "4"
    assert _registry_exponent("n^-1/4") == "2"
    assert _registry_exponent("slower than polynomial") == "slow"
    assert _registry_exponent("not stated") == "-"


def test_the_page_has_a_row_for_every_catalog_expert_and_estimator():
    rows = doc_rows(PAGE.read_text())
    assert set(rows) == {(n, e) for n in CATALOG for e in ("LSE", "Gaussian")}


@pytest.mark.parametrize("name, est", [("ridge-tanh", "lse"), ("linear", "lse")])
def test_rows_of_the_page_equal_predict(name, est):
    (row,) = table_rows([name], (est,))
    assert doc_rows(PAGE.read_text())[(row[0], row[2])] == row


@pytest.mark.slow
def test_every_row_of_the_page_equals_predict():
    rows = doc_rows(PAGE.read_text())
    for row in table_rows():
        assert rows[(row[0], row[2])] == row
