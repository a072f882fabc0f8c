"""MkDocs hook: typeset math at build time as MathML, so the site needs no JavaScript and
loads nothing from the network.

Pages write math as ``$...$`` (inline) and ``$$...$$`` (display); ``pymdownx.arithmatex``
(``generic: true``) wraps it as ``<span class="arithmatex">\\(...\\)</span>`` and
``<div class="arithmatex">\\[...\\]</div>``. This hook converts each to MathML with
``latex2mathml`` (pure Python, from the test extras); every current browser renders MathML
natively.
"""

from __future__ import annotations

import html
import re

from latex2mathml.converter import convert

_INLINE = re.compile(r'<span class="arithmatex">\\\((.*?)\\\)</span>', re.S)
_DISPLAY = re.compile(r'<div class="arithmatex">\\\[(.*?)\\\]</div>', re.S)


def _mathml(tex: str, display: str) -> str:
    return convert(html.unescape(tex).strip(), display=display)


def on_page_content(html_text: str, **kwargs) -> str:
    html_text = _DISPLAY.sub(lambda m: f'<div class="math">{_mathml(m.group(1), "block")}</div>',
                             html_text)
    return _INLINE.sub(lambda m: _mathml(m.group(1), "inline"), html_text)
