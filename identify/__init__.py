"""identify: identifiability of gated mixture-of-experts models.

Table of contents
-----------------
The four steps, each returning a result that displays itself (one-line ``repr``, the
command line's text as ``str``, HTML and Markdown in a notebook, ``to_frame()``)
    :func:`check` -> :class:`CheckResult` (proved verdict, relations, certified rank),
    :func:`predict` -> :class:`Prediction` (rates per block, with sources),
    :func:`simulate` -> :class:`SimulationResult` (measured slopes; ``.plot()``),
    :func:`report` -> :class:`Report` (``.write(folder)`` writes HTML, Markdown, LaTeX)
What is built in
    :func:`catalog` (experts, gates with their options, presets), :data:`CATALOG`,
    :func:`catalog_expert`, :data:`GATES`
Defining a model
    :class:`Expert`, :class:`Gate`, :class:`Model`, :class:`Estimator`, :func:`build_model`
Statuses
    :class:`Verdict` (compares equal to its text)
Errors
    :class:`IdentifyError`, :class:`FormulaError`, :class:`ConfigError`

Examples
--------
>>> import identify
>>> r = identify.check("tanh(a*x + b)")
>>> r.verdict == "strongly identifiable"
True
"""

__version__ = "0.1.0"

from identify.api import Catalog, catalog  # noqa: E402
from identify.api import report as _report  # noqa: E402
from identify.errors import ConfigError, FormulaError, IdentifyError  # noqa: E402
from identify.model.catalog import CATALOG  # noqa: E402
from identify.model.catalog import resolve_expert as catalog_expert  # noqa: E402
from identify.model.expert import Expert  # noqa: E402
from identify.model.gate import GATES, Gate  # noqa: E402
from identify.model.model import Estimator, Model, build_model  # noqa: E402
from identify.numeric.simulate import SimulationResult, simulate  # noqa: E402
from identify.report.content import Report  # noqa: E402
from identify.symbolic.check import CheckResult, check  # noqa: E402
from identify.symbolic.verdict import Verdict  # noqa: E402
from identify.theory.rates import Prediction, predict  # noqa: E402

# after every import: the name `report` is the function, not the subpackage identify.report
# (importing identify.report.* above set the attribute to the subpackage)
report = _report

__all__ = [
    # the four steps and their results
    "check",
    "CheckResult",
    "predict",
    "Prediction",
    "simulate",
    "SimulationResult",
    "report",
    "Report",
    # what is built in
    "catalog",
    "Catalog",
    "CATALOG",
    "catalog_expert",
    "GATES",
    # defining a model
    "Expert",
    "Gate",
    "Model",
    "Estimator",
    "build_model",
    # statuses
    "Verdict",
    # errors
    "IdentifyError",
    "FormulaError",
    "ConfigError",
]
