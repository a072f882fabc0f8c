"""Command line: ``identify check | rates | simulate | reproduce | report | catalog | demo``.

Thin by design: parse options, call the library, print text or JSON. Every
:class:`~identify.errors.IdentifyError` becomes one ``error: ...`` line on stderr and exit
code 2; argparse's own usage errors are shortened to one line too.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from identify.errors import IdentifyError
from identify.model.catalog import CATALOG
from identify.symbolic.check import CheckResult, check
from identify.symbolic.graph import plot_graph, write_graph
from identify.textout import format_check, format_prediction, format_verdict_table
from identify.theory.rates import parse_cells, predict

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit code 2
        raise IdentifyError(f"{message} (see `{self.prog} --help`)")


def _expert_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("formula", nargs="?", help='expert formula, e.g. "tanh(a*x+b)"')
    p.add_argument("--expert", metavar="NAME", help="a catalog entry instead of a formula")


def _model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--gate", default="softmax",
                   help="gate: NAME or NAME:key=value,... (default: softmax; see `identify catalog`)")
    p.add_argument("--dim", type=int, default=1, help="input dimension d (default: 1)")
    p.add_argument("--order", type=int, default=2, help="Taylor order r (default: 2)")
    p.add_argument("--atoms", type=int, default=2, help="number of atoms k (default: 2)")
    p.add_argument("--estimator", default="lse", help="estimator (default: lse)")
    p.add_argument("--seed", type=int, default=0, help="seed of the rational sample points")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="identify", description=(
        "Identifiability of gated mixture-of-experts models: derivative families, relations "
        "(PDEs) with exact proofs, certified ranks and verdicts."))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("check", help="analyse one expert formula or catalog entry")
    _expert_args(p)
    _model_options(p)
    p.add_argument("--cells", default="1,2", help="cell sizes for the rate prediction (1,2)")
    p.add_argument("--graph", metavar="FILE", help="write the interaction graph (.json/.graphml)")
    p.add_argument("--plot", metavar="FILE", help="draw the interaction graph (.svg/.png)")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser("rates", help="predicted estimation rates per parameter block")
    _expert_args(p)
    _model_options(p)
    p.add_argument("--cells", default="1,2", help="cell sizes: 1 = exact, m > 1 = over-fitted")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser("catalog", help="list the built-in experts (and gates)")
    p.add_argument("--check", action="store_true", help="analyse every entry: table of verdicts")
    p.add_argument("--dim", type=int, default=1, help="input dimension for the formulas")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("simulate", help="confirm the predicted rates by simulation (a sweep)")
    _expert_args(p)
    p.add_argument("--preset", metavar="NAME", help="a shipped setup (`identify catalog` lists them)")
    p.add_argument("--gate", default="softmax", help="gate (default: softmax)")
    p.add_argument("--dim", type=int, default=1, help="input dimension d (default: 1)")
    p.add_argument("--estimator", default="lse", help="lse or gaussian (default: lse)")
    p.add_argument("--truth", default="default",
                   help="'default' (generated) or a TOML file with the model and its atoms")
    p.add_argument("--fitted-k", default=None,
                   help="fitted atom counts (default: the preset's, else 2,3)")
    p.add_argument("--n", default=None, help="sample sizes: LOW:HIGH:COUNT log-spaced, or a "
                   "list (default: the preset's, else 1e2:2e4:10)")
    p.add_argument("--reps", type=int, default=None,
                   help="replicates per size (default: the preset's, else 10)")
    p.add_argument("--store", default="identify-results.sqlite",
                   help="SQLite results file; rerunning resumes (default: identify-results.sqlite)")
    p.add_argument("--workers", type=int, default=None, help="local processes (default: cores)")
    p.add_argument("--scheduler", help="'local' (Dask LocalCluster) or a Dask scheduler address")
    p.add_argument("--init", default="near-truth",
                   help="initialisation: near-truth (default: the papers' protocol, the extra "
                        "atoms at random true atoms), split:J (the extra atoms at true atom J), "
                        "random or mixed")
    p.add_argument("--restarts", type=int, default=2, help="starts per fit (default: 2)")
    p.add_argument("--plot", metavar="STEM", help="write the log-log plot to STEM.svg/.png")
    p.add_argument("--tolerance", type=float, default=None,
                   help="verdict band: confirmed when the slope interval lies within predicted "
                   "+- this (default: the preset's, else 0.1)")
    p.add_argument("--until-width", type=float, default=None, metavar="W",
                   help="add replicates in rounds until every predicted slope's interval is "
                   "narrower than W (or --max-fits / --max-seconds is spent)")
    p.add_argument("--max-fits", type=int, default=None, help="fit budget for --until-width")
    p.add_argument("--max-seconds", type=float, default=None,
                   help="time budget for --until-width (checked between rounds)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser("reproduce", help="rerun a published simulation: paper vs measured")
    p.add_argument("name", nargs="?", help="a reproduction (see --list)")
    p.add_argument("--list", action="store_true", help="list the shipped reproductions")
    p.add_argument("--full", action="store_true", help="the paper's setting (slow)")
    p.add_argument("--store", default=None, help="SQLite results file (default: a temporary one)")
    p.add_argument("--workers", type=int, default=None, help="local processes (default: cores)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser("report", help="write a derivation report (HTML, Markdown, LaTeX)")
    _expert_args(p)
    _model_options(p)
    p.add_argument("--cells", default="1,2", help="cell sizes for the rate prediction (1,2)")
    p.add_argument("--store", help="a results store of `identify simulate` for this model")
    p.add_argument("--out", default="identify-report", help="output folder (identify-report)")

    p = sub.add_parser("demo", help="the main job: catalog verdicts, tanh vs linear, reports")
    p.add_argument("--out", default="identify-report", help="output folder (identify-report)")
    p.add_argument("--workers", type=int, default=None, help="local processes (default: cores)")
    p.add_argument("--quick", action="store_true", help="a smaller sweep (for tests)")
    return parser


def _run_check(args: argparse.Namespace) -> CheckResult:
    if (args.formula is None) == (args.expert is None):
        raise IdentifyError("give an expert formula or --expert NAME (one of them)",
                            hint=f'e.g. identify {args.command} "tanh(a*x+b)"')
    cells = parse_cells(args.cells)  # validate before the analysis runs
    del cells
    return check(args.formula, args.gate, catalog=args.expert, dim=args.dim, order=args.order,
                 atoms=args.atoms, estimator=args.estimator, seed=args.seed)


def _check(args: argparse.Namespace) -> int:
    result = _run_check(args)
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
        print(json.dumps(d, indent=2))
    else:
        print(format_check(result))
        print()
        print(format_prediction(prediction))
        for path in written:
            print(f"wrote {path}")
    return 0


def _rates(args: argparse.Namespace) -> int:
    result = _run_check(args)
    prediction = predict(result, parse_cells(args.cells))
    if args.json:
        print(json.dumps({"model": result.model.to_dict(), "verdict": result.verdict.value,
                          **prediction.to_dict()}, indent=2))
    else:
        print(f"identify rates: {result.model.expert.formula}  (gate {result.model.gate.spec}, "
              f"{result.model.estimator.value}; verdict: {result.verdict.value})")
        print(format_prediction(prediction))
    return 0


def _catalog_results(dim: int) -> list[CheckResult]:
    return [check(catalog=name, dim=dim) for name in CATALOG]


def _catalog(args: argparse.Namespace) -> int:
    from identify.model.catalog import catalog_formula
    from identify.model.gate import GATES

    if args.check:
        results = _catalog_results(args.dim)
        if args.json:
            print(json.dumps([r.to_dict() for r in results], indent=2))
        else:
            print(format_verdict_table(results))
        return 0
    entries = [{"name": n, "formula": catalog_formula(n, args.dim), "description": e.description}
               for n, e in CATALOG.items()]
    from identify.numeric.truth import load_preset, preset_names

    gates = [{"name": n, "summary": g.summary, "reference": g.reference} for n, g in GATES.items()]
    presets = [{"name": n, "source": load_preset(n)[1].source} for n in preset_names()]
    if args.json:
        print(json.dumps({"experts": entries, "gates": gates, "presets": presets}, indent=2))
        return 0
    width = max(len(e["name"]) for e in entries)
    print(f"Experts (d = {args.dim}):")
    for e in entries:
        print(f"  {e['name']:<{width}}  {e['formula']:<28}  {e['description']}")
    print("Gates (--gate NAME or NAME:key=value,...):")
    for g in gates:
        print(f"  {g['name']:<{width}}  {g['summary']}  [{g['reference']}]")
    print("Simulation presets (identify simulate --preset NAME):")
    for pr in presets:
        print(f"  {pr['name']:<{width}}  {pr['source']}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from identify.report import build_report, write_report

    result = _run_check(args)
    report = build_report(result, store=args.store, cells=parse_cells(args.cells),
                          figure_dir=args.out)
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
                    progress=not args.no_progress)
    print(json.dumps(rep.to_dict(), indent=2) if args.json else format_reproduction(rep))
    return 0


def _simulate(args: argparse.Namespace) -> int:
    import os

    from identify.model.catalog import catalog_formula
    from identify.numeric.fit import FitSettings
    from identify.numeric.plots import plot_slopes
    from identify.numeric.simulate import simulate
    from identify.numeric.slopes import slope_table

    formula = args.formula
    if args.expert:
        if formula:
            raise IdentifyError("give an expert formula or --expert NAME, not both")
        formula = catalog_formula(args.expert, args.dim)
    ks = None
    if args.fitted_k is not None:
        try:
            ks = tuple(int(v) for v in args.fitted_k.split(","))
        except ValueError:
            raise IdentifyError(f"--fitted-k takes integers like 2,3, got {args.fitted_k!r}"
                                ) from None
    workers = args.workers if args.workers is not None else (os.cpu_count() or 1)
    if workers < 1:
        raise IdentifyError(f"--workers must be >= 1, got {workers}")
    if args.restarts < 1:
        raise IdentifyError(f"--restarts must be >= 1, got {args.restarts}")
    settings = FitSettings(init=args.init, restarts=args.restarts)
    result = simulate(formula, args.gate, preset=args.preset, truth=args.truth, dim=args.dim,
                      estimator=args.estimator, fitted_ks=ks, ns=args.n, replicates=args.reps,
                      settings=settings, store=args.store, workers=workers,
                      scheduler=args.scheduler, progress=not args.no_progress,
                      tolerance=args.tolerance, until_width=args.until_width,
                      max_fits=args.max_fits, max_seconds=args.max_seconds)
    paths = plot_slopes(result.slopes, args.plot, title=result.spec.model["expert"]) \
        if args.plot else ()
    if args.json:
        print(json.dumps({**result.to_dict(), "plots": list(paths)}, indent=2))
        return 0
    spec = result.spec
    m = spec.model
    print(f"identify simulate: {m['expert']} (gate {m['gate']}, {m['estimator']}, d = {m['dim']})")
    print(f"  truth: {spec.truth['name']} with {len(spec.truth['atoms'])} atoms; fitted k = "
          f"{list(spec.fitted_ks)}; n = {list(spec.ns)}; {spec.replicates} replicates")
    for k, p in spec.predictions.items():
        print(f"  k = {k}: verdict {p['verdict']}; source {p['source']}")
    counts = ", ".join(f"{v} {k}" for k, v in result.statuses.items())
    print(f"  store: {args.store} (sweep {spec.sweep_id}); {len(result.rows)} fits: {counts}; "
          f"slopes use converged fits; tolerance {spec.tolerance:g}")
    if args.until_width is not None:
        print(f"  rounds: {result.rounds}, stopped by {result.stopped}")
    print()
    print(slope_table(result.slopes))
    for f in result.slopes:
        if f.predicted is None or f.verdict != "confirmed":
            print(f"  {f.quantity} (k = {f.fitted_k}): {f.reason}")
    for path in paths:
        print(f"wrote {path}")
    return 0


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
                    "reproduce": _reproduce}
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
