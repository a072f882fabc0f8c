"""Command line: ``identify check | rates | simulate | report | catalog | demo``.

Thin by design: parse options, call the library, print text or JSON. Every
:class:`~identify.errors.IdentifyError` becomes one ``error: ...`` line on stderr and exit
code 2; argparse's own usage errors are shortened to one line too.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from identify import __version__
from identify.cliopts import Stage, check_name, gates_help, json_ready, validate_gate
from identify.errors import IdentifyError
from identify.model.catalog import CATALOG
from identify.symbolic.check import CheckResult, check
from identify.symbolic.graph import plot_graph, write_graph
from identify.textout import format_check, format_prediction, format_verdict_table
from identify.theory.rates import parse_cells, predict

__all__ = ["main"]


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
    p.add_argument("--dim", type=int, default=1, help="input dimension d (default: 1)")
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
    p.add_argument("--graph", metavar="FILE", help="write the interaction graph (.json/.graphml)")
    p.add_argument("--plot", metavar="FILE",
                   help="draw the interaction graph to exactly FILE (.svg or .png)")
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
    _quiet_option(p)

    p = sub.add_parser("simulate", help="confirm the predicted rates by simulation (a sweep)")
    _expert_args(p)
    p.add_argument("--preset", metavar="NAME", help="a shipped setup: " + ", ".join(_presets()))
    p.add_argument("--gate", default="softmax", help=_gate_help())
    p.add_argument("--dim", type=int, default=1, help="input dimension d (default: 1)")
    p.add_argument("--estimator", default="lse", help=f"{_ESTIMATORS} (default: lse)")
    p.add_argument("--truth", default="default",
                   help="'default' (generated) or a TOML file with the model and its atoms")
    p.add_argument("--atoms", "--fitted-k", dest="fitted_k", default=None, metavar="K,K,...",
                   help="numbers of atoms k fitted, at least the truth's (default: the "
                        "preset's, else 2,3; --fitted-k is an alias)")
    p.add_argument("--sizes", "--n", dest="n", default=None, metavar="SIZES",
                   help="sample sizes n: LOW:HIGH:COUNT log-spaced, or a list (default: the "
                        "preset's, else 1e2:2e4:10; --n is an alias)")
    p.add_argument("--replicates", "--reps", dest="reps", type=int, default=None,
                   help="replicates per size (default: the preset's, else 10; --reps is an "
                        "alias)")
    p.add_argument("--store", default="identify-results.sqlite",
                   help="SQLite results file; rerunning resumes (default: identify-results.sqlite)")
    p.add_argument("--workers", type=int, default=None, help="local processes (default: cores)")
    p.add_argument("--scheduler", help="'local' (Dask LocalCluster) or a Dask scheduler address")
    p.add_argument("--init", default="near-truth", choices=["near-truth", "random", "mixed"],
                   help="initialisation (default: the papers' near-truth protocol)")
    p.add_argument("--restarts", type=int, default=2, help="starts per fit (default: 2)")
    p.add_argument("--plot", metavar="FILE",
                   help="write the log-log figure to exactly FILE (.svg, .png or .pdf)")
    p.add_argument("--csv", metavar="FILE", help="write the slope table to FILE as CSV")
    p.add_argument("--quiet", "-q", "--no-progress", dest="quiet", action="store_true",
                   help="no stage messages or progress bar on stderr (--no-progress is an alias)")
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
                     seed=args.seed)


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
        print(json.dumps(json_ready(d), indent=2))
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
        print(json.dumps(json_ready({"model": result.model.to_dict(),
                                     "verdict": result.verdict.value, **prediction.to_dict(),
                                     "timing": {"seconds": round(result.seconds, 3)}}), indent=2))
    else:
        print(f"identify rates: {result.model.expert.formula}  (gate {result.model.gate.spec}, "
              f"{result.model.estimator.value}; verdict: {result.verdict.value})")
        print(format_prediction(prediction))
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
    from identify.report import build_report, write_report

    result = _run_check(args)
    with _stage(args)("writing the report: the proof steps, the figures"
                      + (f", the sweep from {args.store}" if args.store else "")):
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


def _simulate(args: argparse.Namespace) -> int:
    import os
    import time

    from identify.model.catalog import catalog_formula
    from identify.numeric.fit import FitSettings
    from identify.numeric.plots import write_figure
    from identify.numeric.simulate import simulate
    from identify.textout import format_simulation

    formula = args.formula
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
                                f"{args.fitted_k!r}") from None
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
                      progress=False if (args.quiet or args.json) else label)
    stage.__exit__()
    seconds = time.perf_counter() - start
    written = []
    if args.plot:
        written.append(write_figure(result.plot(), args.plot))
    if args.csv:
        written.append(_write_csv(result, args.csv))
    if args.json:
        d = json_ready({**result.to_dict(), "written": written},
                       timing={"seconds": round(seconds, 3)})
        print(json.dumps(d, indent=2))
        return 0
    print(format_simulation(result, store=args.store))
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
                    "report": _report, "catalog": _catalog, "demo": _demo}
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
