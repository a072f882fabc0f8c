"""Render a report to a string, or write report.html / report.md / report.tex and figures."""

from __future__ import annotations

import os
import re
import shutil

from identify.errors import ConfigError
from identify.report.content import Report
from identify.report.document import report_document
from identify.report.printers import HtmlPrinter, LatexPrinter, MarkdownPrinter

__all__ = ["render", "render_fragment", "write_report", "FORMATS"]

FORMATS = {"html": HtmlPrinter, "md": MarkdownPrinter, "tex": LatexPrinter}


def _figures(report: Report) -> dict[str, tuple[str, str]]:
    figs = dict(report.figures)
    if report.simulation is not None:
        figs.update(report.simulation.figures)
    return figs


def _inline_svg(path: str) -> str:
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    text = re.sub(r"<\?xml[^>]*\?>", "", text)
    text = re.sub(r"<!DOCTYPE[^>]*>", "", text, flags=re.S)
    return re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S).strip()


def render(report: Report, fmt: str = "md") -> str:
    """The report as one string in ``fmt`` (``html``, ``md`` or ``tex``)."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown report format {fmt!r}; formats: {', '.join(FORMATS)}",
                          where="format")
    figs = _figures(report)
    svg = {name: _inline_svg(paths[0]) for name, paths in figs.items()} if fmt == "html" else {}
    return FORMATS[fmt](figs, svg).doc(report_document(report), report.title)


def render_fragment(report: Report, fmt: str = "html") -> str:
    """The report's body without the page around it (for a notebook cell)."""
    figs = _figures(report)
    svg = {name: _inline_svg(paths[0]) for name, paths in figs.items()} if fmt == "html" else {}
    return FORMATS[fmt](figs, svg).body(report_document(report))


def write_report(report: Report, out_dir: str) -> dict[str, str]:
    """Write report.html, report.md, report.tex and the figures (SVG, PNG) into ``out_dir``.

    Everything is rendered first; the folder is created only then, so a failure leaves
    nothing behind. Existing report files in ``out_dir`` are replaced.

    Raises
    ------
    ConfigError
        If ``out_dir`` is a file, or cannot be created or written.
    """
    texts = {fmt: render(report, fmt) for fmt in FORMATS}
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise ConfigError(f"{out_dir} exists and is not a folder", where="out")
    try:
        os.makedirs(out_dir, exist_ok=True)
        for paths in _figures(report).values():
            for src in paths:
                dst = os.path.join(out_dir, os.path.basename(src))
                if os.path.abspath(src) != os.path.abspath(dst):
                    shutil.copyfile(src, dst)
        written = {}
        for fmt, text in texts.items():
            path = os.path.join(out_dir, f"report.{fmt}")
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text)
            written[fmt] = path
    except OSError as exc:
        raise ConfigError(f"cannot write the report into {out_dir}: {exc.strerror or exc}",
                          where="out") from None
    return written
