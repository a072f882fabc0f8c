"""Derivation reports: the proof, the prediction and the measurement side by side.

``build_report`` gathers the content (:class:`Report`); one printer per format renders it
(``markdown.py``, ``html.py``, ``latex.py``); ``write_report`` writes all three.
"""

from identify.report.content import Report, build_report
from identify.report.write import render, write_report

__all__ = ["Report", "build_report", "render", "write_report"]
