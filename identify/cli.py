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
from collections.abc import Sequence

from identify.cliopts import Stage, check_name, json_ready, validate_gate
from identify.cliparser import ESTIMATORS, build_parser, presets, writable_file, writable_folder
from identify.errors import IdentifyError
from identify.model.catalog import CATALOG
from identify.numeric.sweep import (
    check_limits,
    check_scheduler,
)
from identify.symbolic.budget import DEFAULT_BUDGET
from identify.symbolic.budget import log as progress_log
from identify.symbolic.check import CheckResult, check
from identify.symbolic.graph import plot_graph, write_graph
from identify.textout import format_check, format_prediction, format_verdict_table
from identify.theory.rates import parse_cells, predict

__all__ = ["main", "build_parser"]


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
        check_name("preset", args.preset, presets(), "preset",
                   f"presets: {', '.join(presets())}")
    if getattr(args, "estimator", None):
        check_name("estimator", args.estimator, ("lse", "gaussian"), "estimator",
                   f"known estimators: {ESTIMATORS}")


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
        writable_file(args.graph, "--graph")
    if args.plot:
        writable_file(args.plot, "--plot")
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
    writable_folder(args.out, "--out")
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
        writable_file(args.plot, "--plot")
    if args.csv:
        writable_file(args.csv, "--csv")
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
