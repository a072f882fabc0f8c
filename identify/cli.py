"""Command line: ``identify check | rates | system | simulate | reproduce | report | catalog | demo``.

Thin by design: parse options, call the library, print text or JSON. Every
:class:`~identify.errors.IdentifyError` becomes one ``error: ...`` line on stderr and exit
code 2; argparse's own usage errors are shortened to one line too.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence

from identify import __version__
from identify.cliopts import Stage, check_name, gates_help, json_ready, validate_gate
from identify.errors import IdentifyError
from identify.model.catalog import CATALOG
from identify.model.expert import MAX_DIM
from identify.numeric.sweep import (
    MAX_FITTED_K,
    MAX_N,
    MAX_REPLICATES,
    MAX_SIZES,
    check_limits,
    check_scheduler,
)
from identify.symbolic.budget import DEFAULT_BUDGET
from identify.symbolic.budget import log as progress_log
from identify.symbolic.check import CheckResult, check
from identify.symbolic.graph import plot_graph, write_graph
from identify.textout import format_check, format_prediction, format_verdict_table
from identify.theory.rates import parse_cells, predict

__all__ = ["main"]

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


def _writable_file(path: str, what: str, *, stem: bool = False) -> None:
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


def _writable_folder(path: str, what: str) -> None:
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


_ESTIMATORS = "lse (least squares) or gaussian (Gaussian MoE, maximum likelihood)"


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
    p.add_argument("--estimator", default="lse", help=f"{_ESTIMATORS} (default: lse)")
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
    p.add_argument("--preset", metavar="NAME", help="a shipped setup: " + ", ".join(_presets()))
    p.add_argument("--gate", default=None, help=_gate_help() + " (not with --preset or --truth "
                   "FILE, which fix the model)")
    p.add_argument("--dim", type=_int_in(1, MAX_DIM, "the input dimension"), default=None,
                   help=f"input dimension d, 1 to {MAX_DIM} (default: 1)")
    p.add_argument("--estimator", default=None, help=f"{_ESTIMATORS} (default: lse)")
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


def _presets() -> list[str]:
    from identify.numeric.truth import preset_names

    return preset_names()


def _validate_names(args: argparse.Namespace) -> None:
    """Unknown catalog entries, gates, gate options, presets and estimators: refuse them with
    the closest match, before any work starts."""
    from identify.model.catalog import CATALOG

    if getattr(args, "expert", None):
        check_name("catalog expert", args.expert, CATALOG, "expert",
                   "run `identify catalog` for the list")
    if getattr(args, "gate", None) and not getattr(args, "preset", None):
        validate_gate(args.gate)
    if getattr(args, "preset", None):
        check_name("preset", args.preset, _presets(), "preset",
                   f"presets: {', '.join(_presets())}")
    if getattr(args, "estimator", None):
        check_name("estimator", args.estimator, ("lse", "gaussian"), "estimator",
                   f"known estimators: {_ESTIMATORS}")


def _stage(args: argparse.Namespace) -> Stage:
    return Stage(getattr(args, "quiet", False) or getattr(args, "json", False))


def _run_check(args: argparse.Namespace) -> CheckResult:
    if (args.formula is None) == (args.expert is None):
        raise IdentifyError("give an expert formula or --expert NAME (one of them)",
                            hint=f'e.g. identify {args.command} "tanh(a*x+b)"')
    cells = parse_cells(args.cells)  # validate before the analysis runs
    del cells
    _validate_names(args)
    with _stage(args)(f"checking {args.formula or args.expert} under {args.gate} gating (order "
                      f"{args.order}, {args.atoms} atoms): derivative family, relations, "
                      "certificate"):
        return check(args.formula, args.gate, catalog=args.expert, dim=args.dim,
                     order=args.order, atoms=args.atoms, estimator=args.estimator,
                     seed=args.seed, budget=getattr(args, "budget", DEFAULT_BUDGET))


#: progress messages start once `check` has run this many seconds (short work stays silent)
PROGRESS_AFTER = 2.0


class _LongWork(logging.Filter):
    """Pass records only after PROGRESS_AFTER seconds."""

    def __init__(self) -> None:
        super().__init__()
        import time

        self._clock = time.perf_counter
        self._start = self._clock()

    def filter(self, record: logging.LogRecord) -> bool:
        return self._clock() - self._start >= PROGRESS_AFTER


def _check(args: argparse.Namespace) -> int:
    if args.graph:
        _writable_file(args.graph, "--graph")
    if args.plot:
        _writable_file(args.plot, "--plot")
    # progress (stage names) on stderr, never on stdout and never with --json
    handler, level = None, progress_log.level
    if not args.quiet and not args.json:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("check: %(message)s"))
        handler.addFilter(_LongWork())
        progress_log.addHandler(handler)
        progress_log.setLevel(logging.INFO)
    try:
        result = _run_check(args)
    finally:
        if handler is not None:
            progress_log.removeHandler(handler)
            progress_log.setLevel(level)
    prediction = predict(result, parse_cells(args.cells))
    written = []
    if args.graph:
        written.append(write_graph(result.graph, args.graph))
    if args.plot:
        written.append(plot_graph(result.graph, args.plot,
                                  f"{result.model.expert.formula} ({result.model.gate.name})"))
    if args.json:
        d = result.to_dict()
        d["prediction"] = prediction.to_dict()
        print(json.dumps(json_ready(d), indent=2))
    else:
        print(format_check(result))
        print()
        print(format_prediction(prediction, proof=args.proof))
        for path in written:
            print(f"wrote {path}")
    return 0


def _rates(args: argparse.Namespace) -> int:
    result = _run_check(args)
    prediction = predict(result, parse_cells(args.cells))
    if args.json:
        print(json.dumps(json_ready({"model": result.model.to_dict(),
                                     "verdict": result.verdict.value, **prediction.to_dict(),
                                     "timing": {"seconds": round(result.seconds, 3)}}), indent=2))
    else:
        print(f"identify rates: {result.model.expert.formula}  (gate {result.model.gate.spec}, "
              f"{result.model.estimator.value}; check's verdict: {result.verdict.value}; "
              f"derived verdict: {prediction.verdict.value})")
        print(format_prediction(prediction, proof=args.proof))
    return 0


def _system(args: argparse.Namespace) -> int:
    from identify.theory.systemtext import build_system, format_system, latex_system
    if (args.formula is None) == (args.expert is None):
        raise IdentifyError("give an expert formula or --expert NAME (one of them)",
                            hint='e.g. identify system "tanh(a*x+b)" --cell 2 --order 4')
    s = build_system(args.formula, args.gate, catalog=args.expert, dim=args.dim,
                     estimator=args.estimator, cell=args.cell, order=args.order,
                     grading=args.grading, seed=args.seed)
    if args.json:
        print(json.dumps(s.to_dict(), indent=2))
    elif args.latex:
        print(latex_system(s))
    else:
        print(format_system(s))
    return 0


def _catalog_results(dim: int, stage: Stage | None = None) -> list[CheckResult]:
    """Every catalog entry checked; with a stage, a progress bar on stderr names the work."""
    from tqdm import tqdm

    quiet = stage is None or stage.quiet
    out = []
    with tqdm(CATALOG, desc=f"catalog --check (d = {dim})", unit="entry", file=sys.stderr,
              disable=quiet, leave=False, dynamic_ncols=True) as bar:
        for name in bar:
            bar.set_postfix_str(name)
            out.append(check(catalog=name, dim=dim))
    return out


def _catalog(args: argparse.Namespace) -> int:
    from identify.api import catalog

    if args.check:
        results = _catalog_results(args.dim, _stage(args))
        if args.json:
            print(json.dumps([json_ready(r.to_dict()) for r in results], indent=2))
        else:
            print(format_verdict_table(results))
        return 0
    listing = catalog(args.dim)
    if args.json:
        print(json.dumps(listing.to_dict(), indent=2))
        return 0
    print(listing)
    return 0


def _report(args: argparse.Namespace) -> int:
    import os
    import tempfile

    from identify.numeric.store import ResultStore
    from identify.report import build_report, write_report

    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise IdentifyError(f"{args.out} exists and is not a folder", where="--out")
    _writable_folder(args.out, "--out")
    if args.sweep is not None and args.store is None:
        raise IdentifyError("--sweep selects a sweep of --store; give --store too")
    if args.store is not None:  # refused before the analysis, and never written to
        if not os.path.exists(args.store):
            raise IdentifyError(f"no results store at {args.store}", where="store")
        ResultStore(args.store, readonly=True).close()
    result = _run_check(args)
    with tempfile.TemporaryDirectory(prefix="identify-report-") as figures:
        # figures go to a scratch folder first: a failing command creates nothing in --out
        with _stage(args)("writing the report: the proof steps, the figures"
                          + (f", the sweep from {args.store}" if args.store else "")):
            report = build_report(result, store=args.store, cells=parse_cells(args.cells),
                                  figure_dir=figures, sweep=args.sweep)
        written = write_report(report, args.out)
    for note in report.notes:
        print(f"note: {note}")
    print(f"wrote {written['html']}, {written['md']}, {written['tex']}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from identify.demo import run_demo

    return run_demo(args.out, workers=args.workers, quick=args.quick)


def _reproduce(args: argparse.Namespace) -> int:
    import os

    from identify.numeric.reproduce import format_reproduction, list_text, reproduce

    if args.list:
        print(list_text())
        return 0
    if not args.name:
        raise IdentifyError("give a reproduction NAME or --list",
                            hint="e.g. identify reproduce --list")
    workers = args.workers if args.workers is not None else (os.cpu_count() or 1)
    if workers < 1:
        raise IdentifyError(f"--workers must be >= 1, got {workers}")
    rep = reproduce(args.name, full=args.full, store=args.store, workers=workers,
                    progress=not (args.quiet or args.json))
    print(json.dumps(rep.to_dict(), indent=2) if args.json else format_reproduction(rep))
    return 0


def _simulate(args: argparse.Namespace) -> int:
    import os
    import time

    from identify.model.catalog import catalog_formula
    from identify.numeric.fit import FitSettings
    from identify.numeric.plots import write_figure
    from identify.numeric.simulate import simulate
    from identify.numeric.store import check_store_path
    from identify.numeric.sweep import parse_sizes
    from identify.textout import format_simulation

    formula = args.formula
    fixed = args.preset is not None or args.truth != "default"
    given = [f"--{k}" for k in ("gate", "dim", "estimator") if getattr(args, k) is not None]
    if fixed and (given or formula or args.expert):
        source = f"--preset {args.preset}" if args.preset is not None else f"--truth {args.truth}"
        what = ", ".join(given + (["a formula"] if formula and args.preset else [])
                         + (["--expert"] if args.expert else []))
        if what:
            raise IdentifyError(f"{source} fixes the model; it cannot be combined with {what}")
    args.gate, args.estimator = args.gate or "softmax", args.estimator or "lse"
    args.dim = 1 if args.dim is None else args.dim
    if args.expert:
        if formula:
            raise IdentifyError("give an expert formula or --expert NAME, not both")
        formula = catalog_formula(args.expert, args.dim)
    _validate_names(args)
    ks = None
    if args.fitted_k is not None:
        try:
            ks = tuple(int(v) for v in args.fitted_k.split(","))
        except ValueError:
            raise IdentifyError(f"--atoms (--fitted-k) takes integers like 2,3, got "
                                f"{args.fitted_k!r:.40}") from None
    if args.n is not None:
        parse_sizes(args.n)  # sizes and limits checked before any work
    check_limits(ks or (2,), [10], args.reps or 1)
    check_scheduler(args.scheduler, probe=True)  # before the store is created
    check_store_path(args.store)  # an existing file that is not an identify store: refused
    if args.plot:
        _writable_file(args.plot, "--plot")
    if args.csv:
        _writable_file(args.csv, "--csv")
    workers = args.workers if args.workers is not None else (os.cpu_count() or 1)
    if workers < 1:
        raise IdentifyError(f"--workers must be >= 1, got {workers}")
    if args.restarts < 1:
        raise IdentifyError(f"--restarts must be >= 1, got {args.restarts}")
    if args.plot:
        _figure_path(args.plot)  # refuse a bad --plot before the sweep runs
    true_k, what = _true_atoms(formula, args)
    if ks is not None and min(ks) < true_k:
        raise IdentifyError(
            f"--atoms {min(ks)} is fewer than the {true_k} atoms of the truth ({what}): an "
            f"under-fitted model has no rate to predict (its error does not go to 0)",
            hint=f"fit at least {true_k} atoms, e.g. --atoms {true_k},{true_k + 1}")
    stage = _stage(args)
    label = f"{formula or args.preset or args.truth} k={','.join(map(str, ks)) if ks else 'default'}"
    stage(f"simulating {label}: the prediction, then the fits (resumable in {args.store})")
    start = time.perf_counter()
    settings = FitSettings(init=args.init, restarts=args.restarts)
    result = simulate(formula, args.gate, preset=args.preset, truth=args.truth, dim=args.dim,
                      estimator=args.estimator, fitted_ks=ks, ns=args.n, replicates=args.reps,
                      settings=settings, store=args.store, workers=workers,
                      scheduler=args.scheduler,
                      progress=False if (args.quiet or args.json) else label,
                      tolerance=args.tolerance, until_width=args.until_width,
                      max_fits=args.max_fits, max_seconds=args.max_seconds)
    stage.__exit__()
    seconds = time.perf_counter() - start
    from identify.numeric.store import ResultStore

    with ResultStore(args.store, readonly=True) as st:
        counts = st.counts()
    other_tasks = counts.get(result.spec.sweep_id, 0) - len(result.rows)
    other_sweeps = len(counts) - 1
    written = []
    if args.plot:
        written.append(write_figure(result.plot(), args.plot))
    if args.csv:
        written.append(_write_csv(result, args.csv))
    if args.json:
        d = json_ready({**result.to_dict(), "written": written, "store_other_tasks": other_tasks,
                        "store_other_sweeps": other_sweeps},
                       timing={"seconds": round(seconds, 3)})
        print(json.dumps(d, indent=2))
        return 0
    print(format_simulation(result, store=args.store))
    if args.until_width is not None:
        print(f"  rounds: {result.rounds}, stopped by {result.stopped}")
    if other_tasks or other_sweeps:
        print(f"  the store also holds {other_tasks} other task(s) of this sweep (other sizes or "
              f"replicates) and {other_sweeps} other sweep(s); they are not analysed here")
    for path in written:
        print(f"wrote {path}")
    return 0


def _figure_path(path: str) -> str:
    from identify.numeric.plots import FIGURE_FORMATS

    if not path.lower().endswith(FIGURE_FORMATS):
        raise IdentifyError(f"--plot writes exactly the file given, its format from the "
                            f"extension: {', '.join(FIGURE_FORMATS)}; got {path!r}", where="plot")
    return path


def _write_csv(result, path: str) -> str:
    try:
        result.slopes.to_frame().to_csv(path, index=False)
    except OSError as exc:
        raise IdentifyError(f"cannot write {path}: {exc.strerror}", where="csv") from None
    return path


def _true_atoms(formula: str | None, args: argparse.Namespace) -> tuple[int, str]:
    """The number of atoms of the truth the sweep will sample from, and where it comes from."""
    from identify.model.model import build_model
    from identify.numeric.truth import default_truth, load_preset, load_truth_file

    if args.preset:
        return load_preset(args.preset)[1].k, f"preset {args.preset}"
    if args.truth != "default":
        return load_truth_file(args.truth)[1].k, f"truth file {args.truth}"
    if formula is None:
        return 0, "none"  # build_spec refuses this with its own message
    model = build_model(formula, args.gate, dim=args.dim, estimator=args.estimator)
    return default_truth(model).k, "the default truth"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``identify`` command; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 0
        commands = {"check": _check, "rates": _rates, "simulate": _simulate,
                    "report": _report, "catalog": _catalog, "demo": _demo,
                    "system": _system, "reproduce": _reproduce}
        return commands[args.command](args)
    except IdentifyError as exc:
        print(f"error: {exc.one_line()}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `identify check ... | head`
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
