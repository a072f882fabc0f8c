"""One printer per format over the neutral document (see ``document.py``).

``Printer._print`` dispatches on the block's class name (``_print_Heading`` ...), as sympy's
printers do; an unknown block raises rather than falling back to ``str``.
"""

from __future__ import annotations

import html
import re

import sympy

from identify.report.document import Details, Figure, Heading, Items, Math, Para, RawMath, Table
from identify.report.mathfmt import to_latex, to_mathml

__all__ = ["MarkdownPrinter", "HtmlPrinter", "LatexPrinter"]


class Printer:
    def __init__(self, figures: dict[str, tuple[str, str]], svg: dict[str, str] | None = None):
        self.figures = figures
        self.svg = svg or {}

    def _print(self, block) -> str:
        method = getattr(self, f"_print_{type(block).__name__}", None)
        if method is None:
            raise NotImplementedError(f"{type(self).__name__} cannot print {type(block).__name__}")
        return method(block)

    def doc(self, blocks: list, title: str) -> str:
        return self.body(blocks)

    def body(self, blocks) -> str:
        """The blocks alone, without a page around them."""
        return "\n".join(self._print(b) for b in blocks)

    def part(self, p) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def cell(self, p) -> str:
        """A table cell: one part or a tuple of parts."""
        return "".join(self.part(x) for x in p) if isinstance(p, tuple) else self.part(p)


_MD_SPECIAL = re.compile(r"([\\`*_\[\]#|~$])")


def _md_escape(text: str) -> str:
    """Plain text for Markdown: HTML special characters as entities (no raw HTML survives a
    Markdown-to-HTML conversion) and Markdown punctuation backslash-escaped, on one line."""
    raw = str(text)
    body = " ".join(raw.split())
    # a part's boundary spaces separate it from the next part (math, say): keep one
    lead = " " if raw[:1].isspace() else ""
    trail = " " if raw[-1:].isspace() and body else ""
    text = html.escape(lead + body + trail, quote=False)
    return _MD_SPECIAL.sub(r"\\\1", text)


class MarkdownPrinter(Printer):
    """Markdown with LaTeX math ($...$, $$...$$); text is escaped (``_md_escape``)."""

    def part(self, p) -> str:
        if isinstance(p, RawMath):
            return f"${p.latex}$"
        return f"${to_latex(p)}$" if isinstance(p, sympy.Basic) else _md_escape(p)

    def _print_Heading(self, b: Heading) -> str:
        return f"\n{'#' * b.level} {_md_escape(b.text)}\n"

    def _print_Para(self, b: Para) -> str:
        return "".join(self.part(p) for p in b.parts) + "\n"

    def _print_Math(self, b: Math) -> str:
        return f"$$\n{to_latex(b.expr)}\n$$\n"

    def _print_Table(self, b: Table) -> str:
        cell = lambda p: re.sub(r"(?<!\\)\|", r"\\|", self.cell(p))  # noqa: E731
        lines = ["| " + " | ".join(map(_md_escape, b.header)) + " |", "|" + "---|" * len(b.header)]
        lines += ["| " + " | ".join(cell(p) for p in row) + " |" for row in b.rows]
        return "\n".join(lines) + "\n"

    def _print_Figure(self, b: Figure) -> str:
        caption = _md_escape(b.caption)
        return f"![{caption}]({b.name}.svg)\n\n*{caption}*\n"

    def _print_Items(self, b: Items) -> str:
        return "\n".join("- " + "".join(self.part(p) for p in item) for item in b.items) + "\n"

    def _print_Details(self, b: Details) -> str:
        return (f"<details><summary>{html.escape(b.summary)}</summary>\n\n"
                + self.body(b.blocks) + "\n</details>\n")


class HtmlPrinter(Printer):
    """Self-contained HTML: MathML for math, inline SVG for figures, no JavaScript."""

    def part(self, p) -> str:
        if isinstance(p, RawMath):
            return p.mathml
        return to_mathml(p) if isinstance(p, sympy.Basic) else html.escape(str(p))

    def doc(self, blocks: list, title: str) -> str:
        return _HTML.format(title=html.escape(title), body=self.body(blocks))

    def _print_Heading(self, b: Heading) -> str:
        return f"<h{b.level}>{html.escape(b.text)}</h{b.level}>"

    def _print_Para(self, b: Para) -> str:
        return "<p>" + "".join(self.part(p) for p in b.parts) + "</p>"

    def _print_Math(self, b: Math) -> str:
        return f'<div class="math">{to_mathml(b.expr, display=True)}</div>'

    def _print_Table(self, b: Table) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in b.header)
        rows = "".join("<tr>" + "".join(f"<td>{self.cell(p)}</td>" for p in row) + "</tr>"
                       for row in b.rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"

    def _print_Figure(self, b: Figure) -> str:
        svg = self.svg.get(b.name, "")
        return (f'<figure id="{b.name}">{svg}<figcaption>{html.escape(b.caption)}'
                "</figcaption></figure>")

    def _print_Items(self, b: Items) -> str:
        return "<ul>" + "".join("<li>" + "".join(self.part(p) for p in item) + "</li>"
                                for item in b.items) + "</ul>"

    def _print_Details(self, b: Details) -> str:
        return (f"<details><summary>{html.escape(b.summary)}</summary>" + self.body(b.blocks)
                + "</details>")


_HTML = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: Georgia, serif; max-width: 62rem; margin: 2rem auto; padding: 0 1rem;
       line-height: 1.45; color: #222; }}
h1 {{ font-size: 1.6rem; }} h2 {{ border-bottom: 1px solid #ccc; margin-top: 2rem; }}
table {{ border-collapse: collapse; margin: 1rem 0; font-size: 0.92rem; }}
th, td {{ border: 1px solid #bbb; padding: 0.25rem 0.5rem; vertical-align: top; }}
th {{ background: #f1f1f1; }}
div.math {{ margin: 0.6rem 0 0.6rem 1.5rem; }}
figure {{ margin: 1rem 0; }} figure svg {{ max-width: 100%; height: auto; }}
figcaption {{ font-size: 0.9rem; color: #555; }}
details {{ margin: 0.3rem 0 0.8rem 1.5rem; }} summary {{ cursor: pointer; color: #345; }}
</style>
</head>
<body>
{body}
</body>
</html>
"""


def _tex_escape(text: str) -> str:
    repl = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
            "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
            "^": r"\textasciicircum{}"}
    return re.sub(r"[\\&%$#_{}~^]", lambda m: repl[m.group()], text)


class LatexPrinter(Printer):
    """A standalone LaTeX article (article class, amsmath, graphicx, longtable)."""

    def part(self, p) -> str:
        if isinstance(p, RawMath):
            return f"${p.latex}$"
        return f"${to_latex(p)}$" if isinstance(p, sympy.Basic) else _tex_escape(str(p))

    def doc(self, blocks: list, title: str) -> str:
        body = "\n".join(self._print(b) for b in blocks[1:])  # the title is \title
        return (r"\documentclass[10pt]{article}" "\n"
                r"\usepackage[margin=2cm]{geometry}" "\n"
                r"\usepackage{amsmath,amssymb,graphicx,longtable}" "\n"
                r"\usepackage[T1]{fontenc}" "\n"
                rf"\title{{{_tex_escape(title)}}}" "\n" r"\date{}" "\n"
                r"\begin{document}" "\n" r"\maketitle" "\n"
                f"{body}\n" r"\end{document}" "\n")

    def _print_Heading(self, b: Heading) -> str:
        cmd = {1: "section*", 2: "section", 3: "subsection"}.get(b.level, "paragraph")
        return f"\\{cmd}{{{_tex_escape(b.text)}}}"

    def _print_Para(self, b: Para) -> str:
        return "".join(self.part(p) for p in b.parts) + "\n"

    def _print_Math(self, b: Math) -> str:
        return "\\begin{equation*}\n" + to_latex(b.expr) + "\n\\end{equation*}"

    def _print_Table(self, b: Table) -> str:
        cols = "|" + "p{%.2f\\linewidth}|" % (0.9 / len(b.header)) * len(b.header)
        lines = [f"\\begin{{longtable}}{{{cols}}}", "\\hline",
                 " & ".join(_tex_escape(h) for h in b.header) + r" \\ \hline"]
        lines += [" & ".join(self.cell(p) for p in row) + r" \\ \hline" for row in b.rows]
        return "\n".join(lines + ["\\end{longtable}"])

    def _print_Figure(self, b: Figure) -> str:
        return ("\\begin{figure}[h]\\centering\n"
                f"\\includegraphics[width=0.8\\linewidth]{{{b.name}.png}}\n"
                f"\\caption{{{_tex_escape(b.caption)}}}\n\\end{{figure}}")

    def _print_Items(self, b: Items) -> str:
        return "\\begin{itemize}\n" + "\n".join(
            "\\item " + "".join(self.part(p) for p in item) for item in b.items) + \
            "\n\\end{itemize}"

    def _print_Details(self, b: Details) -> str:
        return f"\\paragraph{{{_tex_escape(b.summary)}}}\n" + self.body(b.blocks)
