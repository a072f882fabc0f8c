"""The command line's argument parser: every subcommand, option, limit and help text.

`identify.cli` runs the commands; this module only says what they accept. Values are checked
as they are parsed (integer ranges, writable paths), so a bad option is one usage line and
exit code 2 before any work starts.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from identify import __version__
from identify.cliopts import gates_help
from identify.errors import IdentifyError
from identify.model.expert import MAX_DIM
from identify.numeric.sweep import MAX_FITTED_K, MAX_N, MAX_REPLICATES, MAX_SIZES
from identify.symbolic.budget import DEFAULT_BUDGET

__all__ = ["build_parser", "presets", "writable_file", "writable_folder", "ESTIMATORS"]

MAX_RESTARTS = 50
MAX_WORKERS = 1024


def _int_in(low: int, high: int, what: str = "the value") -> Callable[[str], int]:
    """An argparse type: an integer from ``low`` to ``high``, checked before any work."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{what} must be an integer from {low} to {high}, "
                                             f"got {text!r:.40}")
        return value
    parse.__name__ = "integer"
    return parse


def writable_file(path: str, what: str, *, stem: bool = False) -> None:
    """Refuse an output path before the work: its folder must exist, and it must not be a
    folder itself (for a plot stem, neither may STEM.svg or STEM.png); nothing is created."""
    import os

    for target in ([f"{path}.svg", f"{path}.png", path] if stem else [path]):
        if os.path.isdir(target):
            raise IdentifyError(f"{target} is a directory", where=what,
                                hint="give a file name" + (" stem" if stem else ""))
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise IdentifyError(f"the folder {folder} does not exist (nothing was written)",
                            where=what)


def writable_folder(path: str, what: str) -> None:
    """Refuse an output folder that cannot be written, before the work: a scratch folder is
    made (and removed at once) in it, or in its nearest existing ancestor."""
    import os
    import tempfile

    place = os.path.abspath(path)
    while not os.path.exists(place):
        place = os.path.dirname(place)
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".identify-probe-", dir=place))
    except OSError as exc:
        raise IdentifyError(f"cannot write the report into {path}: {exc.strerror or exc} "
                            "(nothing was written)", where=what) from None


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit code 2
        import re

        from identify.cliopts import suggest

        m = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if m:
            choices = re.findall(r"'([^']*)'", m.group(2)) or [
                c.strip() for c in m.group(2).split(",")]
            message += suggest(m.group(1), choices)
        m = re.match(r"unrecognized arguments: (\S+)", message)
        if m:
            flags = [o for a in self._actions for o in a.option_strings]
            for sub in self._subparsers._group_actions if self._subparsers else ():
                for p in getattr(sub, "choices", {}).values():
                    flags += [o for a in p._actions for o in a.option_strings]
            message += suggest(m.group(1).split("=")[0], flags)
        raise IdentifyError(f"{message} (see `{self.prog} --help`)")


ESTIMATORS = "lse (least squares) or gaussian (Gaussian MoE, maximum likelihood)"


def _gate_help() -> str:
    return f"gate: NAME or NAME:key=value,... (default: softmax); gates with their defaults: " \
           f"{gates_help()}".replace("%", "%%")


def _quiet_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quiet", "-q", action="store_true",
                   help="no stage messages or progress bar on stderr")


def _expert_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("formula", nargs="?", help='expert formula, e.g. "tanh(a*x+b)"')
    p.add_argument("--expert", metavar="NAME",
                   help="a catalog entry instead of a formula (`identify catalog` lists them)")


def _model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--gate", default="softmax", help=_gate_help())
    p.add_argument("--dim", type=_int_in(1, MAX_DIM, "the input dimension"), default=1,
                   help=f"input dimension d, 1 to {MAX_DIM} (default: 1)")
    p.add_argument("--order", type=int, default=2, help="Taylor order r (default: 2)")
    p.add_argument("--atoms", type=int, default=2,
                   help="number of atoms k in the joint rank certificate (default: 2)")
    p.add_argument("--estimator", default="lse", help=f"{ESTIMATORS} (default: lse)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the rational sample points (default: 0; the verdict does not "
                        "depend on it)")
    _quiet_option(p)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="identify", description=(
        "Identifiability of gated mixture-of-experts models: derivative families, relations "
        "(PDEs) with exact proofs, certified ranks and verdicts."))
    parser.add_argument("--version", action="version", version=f"identify {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("check", help="analyse one expert formula or catalog entry")
    _expert_args(p)
    _model_options(p)
    p.add_argument("--cells", default="1,2", help="cell sizes for the rate prediction (1,2)")
    p.add_argument("--proof", action="store_true", help="print every rate's whole proof")
    p.add_argument("--graph", metavar="FILE", help="write the interaction graph (.json/.graphml)")
    p.add_argument("--plot", metavar="FILE",
                   help="draw the interaction graph to exactly FILE (.svg or .png)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--budget", type=float, default=DEFAULT_BUDGET, metavar="SECONDS",
                   help=f"time budget; when spent the verdict is inconclusive with what was "
                   f"proved so far (default: {DEFAULT_BUDGET:g})")

    p = sub.add_parser("rates", help="predicted estimation rates per parameter block")
    _expert_args(p)
    _model_options(p)
    p.add_argument("--cells", default="1,2", help="cell sizes: 1 = exact, m > 1 = over-fitted")
    p.add_argument("--proof", action="store_true",
                   help="print every rate's whole proof, the notes and the provenance")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser("system", help="the coefficient system of an over-fitted cell (rates)")
    _expert_args(p)
    p.add_argument("--gate", default="softmax", help="gate name or NAME:key=value (softmax)")
    p.add_argument("--dim", type=int, default=1, help="input dimension d (default: 1)")
    p.add_argument("--estimator", default="lse", help="estimator (default: lse)")
    p.add_argument("--cell", type=int, default=2, help="atoms in the cell (default: 2)")
    p.add_argument("--order", type=int, default=4, help="level r of the system (default: 4)")
    p.add_argument("--grading", default=None, help="block weights, e.g. a=2,nu=2 (default: 1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the rational true atom")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--latex", action="store_true", help="print the equations in LaTeX")

    p = sub.add_parser("catalog", help="list the built-in experts (and gates)")
    p.add_argument("--check", action="store_true", help="analyse every entry: table of verdicts")
    p.add_argument("--dim", type=_int_in(1, MAX_DIM, "the input dimension"), default=1,
                   help=f"input dimension for the formulas, 1 to {MAX_DIM}")
    p.add_argument("--json", action="store_true", help="print JSON")
    _quiet_option(p)

    p = sub.add_parser("simulate", help="confirm the predicted rates by simulation (a sweep)")
    _expert_args(p)
    p.add_argument("--preset", metavar="NAME", help="a shipped setup: " + ", ".join(presets()))
    p.add_argument("--gate", default=None, help=_gate_help() + " (not with --preset or --truth "
                   "FILE, which fix the model)")
    p.add_argument("--dim", type=_int_in(1, MAX_DIM, "the input dimension"), default=None,
                   help=f"input dimension d, 1 to {MAX_DIM} (default: 1)")
    p.add_argument("--estimator", default=None, help=f"{ESTIMATORS} (default: lse)")
    p.add_argument("--truth", default="default",
                   help="'default' (generated) or a TOML file with the model and its atoms")
    p.add_argument("--atoms", "--fitted-k", dest="fitted_k", default=None, metavar="K,K,...",
                   help=f"numbers of atoms k fitted, each 1 to {MAX_FITTED_K} and at least the "
                        "truth's (default: the preset's, else 2,3; --fitted-k is an alias)")
    p.add_argument("--sizes", "--n", dest="n", default=None, metavar="SIZES",
                   help=f"sample sizes n: LOW:HIGH:COUNT log-spaced, or a list; each 10 to {MAX_N}, "
                        f"at most {MAX_SIZES} (default: the preset's, else 1e2:2e4:10; --n is an "
                        "alias)")
    p.add_argument("--replicates", "--reps", dest="reps",
                   type=_int_in(1, MAX_REPLICATES, "replicates"), default=None,
                   help=f"replicates per size, 1 to {MAX_REPLICATES} (default: the preset's, else "
                        "10; --reps is an alias)")
    p.add_argument("--store", default="identify-results.sqlite",
                   help="SQLite results file; rerunning resumes (default: identify-results.sqlite)")
    p.add_argument("--workers", type=_int_in(1, MAX_WORKERS, "workers"), default=None,
                   help="local processes, at most the tasks and the cores (default: cores)")
    p.add_argument("--scheduler", help="'local' (Dask LocalCluster) or a Dask scheduler address "
                   "tcp://HOST:PORT")
    p.add_argument("--init", default="near-truth",
                   help="initialisation, one of near-truth,random,mixed,split:J (default: "
                        "near-truth, the papers' protocol: the extra atoms at random true atoms; "
                        "split:J puts every extra atom at true atom J)")
    p.add_argument("--restarts", type=_int_in(1, MAX_RESTARTS, "restarts"), default=2,
                   help=f"starts per fit, 1 to {MAX_RESTARTS} (default: 2)")
    p.add_argument("--plot", metavar="FILE",
                   help="write the log-log figure to exactly FILE (.svg, .png or .pdf)")
    p.add_argument("--csv", metavar="FILE", help="write the slope table to FILE as CSV")
    p.add_argument("--quiet", "-q", "--no-progress", dest="quiet", action="store_true",
                   help="no stage messages or progress bar on stderr (--no-progress is an alias)")
    p.add_argument("--tolerance", type=float, default=None,
                   help="verdict band: confirmed when the slope interval lies within predicted "
                   "+- this (default: the preset's, else 0.1)")
    p.add_argument("--until-width", type=float, default=None, metavar="W",
                   help="add replicates in rounds until every predicted slope's interval is "
                   "narrower than W (or --max-fits / --max-seconds is spent)")
    p.add_argument("--max-fits", type=int, default=None, help="fit budget for --until-width")
    p.add_argument("--max-seconds", type=float, default=None,
                   help="time budget for --until-width (checked between rounds)")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser("reproduce", help="rerun a published simulation: paper vs measured")
    p.add_argument("name", nargs="?", help="a reproduction (see --list)")
    p.add_argument("--list", action="store_true", help="list the shipped reproductions")
    p.add_argument("--full", action="store_true", help="the paper's setting (slow)")
    p.add_argument("--store", default=None, help="SQLite results file (default: a temporary one)")
    p.add_argument("--workers", type=_int_in(1, MAX_WORKERS, "workers"), default=None,
                   help="local processes, at most the tasks and the cores (default: cores)")
    p.add_argument("--quiet", "-q", "--no-progress", dest="quiet", action="store_true",
                   help="no progress bar on stderr (--no-progress is an alias)")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser("report", help="write a derivation report (HTML, Markdown, LaTeX)")
    _expert_args(p)
    _model_options(p)
    p.add_argument("--cells", default="1,2", help="cell sizes for the rate prediction (1,2)")
    p.add_argument("--store", help="a results store of `identify simulate` for this model")
    p.add_argument("--sweep", help="which sweep of this model in --store to analyse (its id; "
                   "default: the one with the most stored tasks)")
    p.add_argument("--out", default="identify-report", help="output folder (identify-report)")

    p = sub.add_parser("demo", help="the main job: catalog verdicts, tanh vs linear, reports")
    p.add_argument("--out", default="identify-report", help="output folder (identify-report)")
    p.add_argument("--workers", type=_int_in(1, MAX_WORKERS, "workers"), default=None,
                   help="local processes (default: cores)")
    p.add_argument("--quick", action="store_true", help="a smaller sweep (for tests)")
    return parser


def presets() -> list[str]:
    from identify.numeric.truth import preset_names

    return preset_names()
