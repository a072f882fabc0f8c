"""MkDocs hook: show Sphinx roles in docstrings as plain code.

identify's docstrings use Sphinx roles (``:class:`Expert```, ``:func:`~identify.x.f```),
which Markdown renders as ``:class:<code>Expert</code>``. This hook drops the role prefix
and, as Sphinx does, shortens a ``~``-prefixed path to its last component. It only
touches rendered HTML; the docstrings are unchanged.
"""

from __future__ import annotations

import re

_ROLE = re.compile(r":(?:class|func|meth|attr|data|mod|exc|obj|const):<code>(~?)([^<]*)</code>")


def _plain(match: re.Match) -> str:
    tilde, target = match.groups()
    return f"<code>{target.rsplit('.', 1)[-1] if tilde else target}</code>"


def on_page_content(html: str, **kwargs) -> str:
    return _ROLE.sub(_plain, html)
