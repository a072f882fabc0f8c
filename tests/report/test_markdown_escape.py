"""report.md escapes text like report.html: no raw HTML or link from a truth name or a store
path survives a Markdown-to-HTML conversion."""

from __future__ import annotations

import markdown
import pytest
import sympy

from identify.report.document import Heading, Items, Para, Table
from identify.report.printers import MarkdownPrinter

HOSTILE = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>",
           "[click](javascript:alert(1))", "*bold* _it_ `code` | pipe", "&lt;script&gt;"]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_stays_text(text):
    blocks = [Heading(1, f"Identifiability of {text}"), Para((f"Store {text}, truth '{text}'",)),
              Table(("quantity", "verdict"), ((text, sympy.Symbol("a")),)),
              Items(((text,),))]
    md = MarkdownPrinter({}).doc(blocks, "t")
    page = markdown.markdown(md, extensions=["tables"])
    for tag in ("<script", "<img", "<a ", "<em>", "<strong>", "<code>"):
        assert tag not in page, (tag, page)
    assert page.count("<td>") == 2  # the table row keeps its two cells
    assert text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in page


def test_ordinary_text_reads_the_same():
    md = MarkdownPrinter({}).doc([Para(("Rank 4 of 6 per atom; d = 1.",))], "t")
    assert markdown.markdown(md) == "<p>Rank 4 of 6 per atom; d = 1.</p>"
