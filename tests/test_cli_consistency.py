"""The command line is consistent across subcommands (issue 11): --version, choices listed in
--help, one flag name per concept (old names kept as aliases), did-you-mean suggestions,
--plot FILE writing exactly FILE, stage messages on stderr only, under-fitted sweeps refused,
and the JSON conventions (exponents as numbers, verdict keys, a separate timing object)."""

from __future__ import annotations

import csv
import json

import pytest

import identify
from identify.cli import build_parser, main
from identify.model.gate import GATES


@pytest.fixture(autouse=True)
def stage_messages_at_once(monkeypatch):
    """Stage messages appear when a stage runs longer than Stage.delay; here at once."""
    from identify.cliopts import Stage

    monkeypatch.setattr(Stage, "delay", 0.0)


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"identify {identify.__version__}"


@pytest.mark.parametrize("command", ["check", "rates", "report", "simulate"])
def test_help_lists_every_gate_with_its_options_and_defaults_and_the_estimators(command):
    text = " ".join(build_parser()._subparsers._group_actions[0].choices[command]
                    .format_help().split())
    for name, cls in GATES.items():
        assert name in text
        for key, (_type, default) in cls._options.items():
            assert f"{key}={default}" in text.replace("- ", "-").replace(" ", "")
    assert "lse" in text and "gaussian" in text


def test_simulate_help_lists_presets_and_initialisations():
    from identify.numeric.truth import preset_names

    text = build_parser()._subparsers._group_actions[0].choices["simulate"].format_help()
    flat = "".join(text.split())
    for name in preset_names():
        assert name in flat
    assert "near-truth,random,mixed" in flat


def test_one_flag_per_concept_old_names_are_aliases():
    sub = build_parser()._subparsers._group_actions[0].choices
    check_args = sub["check"].parse_args(["tanh(a*x)", "--atoms", "3"])
    new = sub["simulate"].parse_args(["tanh(a*x)", "--atoms", "2,3", "--sizes", "1e2:1e3:3",
                                      "--replicates", "4", "--quiet"])
    old = sub["simulate"].parse_args(["tanh(a*x)", "--fitted-k", "2,3", "--n", "1e2:1e3:3",
                                      "--reps", "4", "--no-progress"])
    assert check_args.atoms == 3
    assert (new.fitted_k, new.n, new.reps, new.quiet) == (old.fitted_k, old.n, old.reps,
                                                          old.quiet) == ("2,3", "1e2:1e3:3", 4,
                                                                         True)


@pytest.mark.parametrize("args, fragment", [
    (["check", "--expert", "ridge-tanhh"], "did you mean ridge-tanh?"),
    (["check", "tanh(a*x)", "--gate", "sofmax"], "did you mean softmax?"),
    (["check", "tanh(a*x)", "--gate", "top-k:kk=3"], "did you mean k?"),
    (["rates", "tanh(a*x)", "--estimator", "lsq"], "did you mean lse?"),
    (["simulate", "--preset", "softmax-gausian-linear"], "did you mean softmax-gaussian-linear?"),
    (["chek", "tanh(a*x)"], "did you mean check?"),
    (["check", "tanh(a*x)", "--jsn"], "did you mean --json?"),
])
def test_unknown_names_suggest_the_closest(args, fragment, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and fragment in err


def test_under_fitted_sweep_is_refused_before_any_fit(tmp_path, capsys):
    store = tmp_path / "s.sqlite"
    assert main(["simulate", "tanh(a*x+b)", "--atoms", "1,2", "--store", str(store),
                 "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "fewer than the 2 atoms of the truth" in err and err.count("\n") == 1
    assert not store.exists()


def test_plot_without_a_known_extension_is_refused_before_the_sweep(tmp_path, capsys):
    assert main(["simulate", "tanh(a*x+b)", "--plot", str(tmp_path / "rates"),
                 "--store", str(tmp_path / "s.sqlite")]) == 2
    assert ".svg, .png, .pdf" in capsys.readouterr().err
    assert not (tmp_path / "s.sqlite").exists()


@pytest.fixture(scope="module")
def small_sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim")
    args = ["simulate", "tanh(a*x+b)", "--atoms", "2", "--sizes", "100,300,1000",
            "--replicates", "2", "--workers", "1", "--store", str(out / "s.sqlite")]
    return out, args


def test_simulate_writes_exactly_the_plot_file_and_the_csv(small_sweep, capsys):
    out, args = small_sweep
    assert main([*args, "--plot", str(out / "fig.png"), "--csv", str(out / "slopes.csv"),
                 "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""  # --quiet: no stage messages, no progress bar
    assert sorted(p.name for p in out.iterdir()) == ["fig.png", "s.sqlite", "slopes.csv"]
    assert (out / "fig.png").read_bytes()[:4] == b"\x89PNG"
    rows = list(csv.DictReader((out / "slopes.csv").open()))
    assert {r["quantity"] for r in rows} >= {"D1"}
    assert all(r["verdict"] in ("confirmed", "contradicted", "inconclusive") for r in rows)


def test_simulate_names_its_stage_and_progress_on_stderr_only(small_sweep, capsys):
    _out, args = small_sweep
    assert main(args) == 0  # resumes from the store: every fit is already there
    captured = capsys.readouterr()
    assert "identify: simulating tanh(a*x+b) k=2" in captured.err
    assert "tanh(a*x+b) k=2:" in captured.err  # the progress bar names the work
    assert "identify:" not in captured.out


def test_simulate_json_has_timing_apart_and_nothing_on_stderr(small_sweep, capsys):
    _out, args = small_sweep
    assert main([*args, "--json"]) == 0
    captured = capsys.readouterr()
    d = json.loads(captured.out)
    assert captured.err == ""
    assert set(d["timing"]) == {"seconds"}
    assert "seconds" not in json.dumps({k: v for k, v in d.items() if k != "timing"})


def test_check_json_exponents_are_numbers_and_verdicts_have_keys(capsys):
    assert main(["check", "tanh(a*x+b)", "--json"]) == 0
    captured = capsys.readouterr()
    d = json.loads(captured.out)
    assert captured.err == ""  # --json: no stage messages
    assert d["verdict"] == "strongly identifiable" and d["verdict_key"] == "strong"
    assert "seconds" not in d and set(d["timing"]) == {"seconds"}
    rates = {(r["block"], r["cell_size"]): r["exponent"] for r in d["prediction"]["rates"]}
    assert rates[("a", 1)] == {"p": 1, "q": 1, "value": 1.0}
    assert rates[("a", 2)] == {"p": 2, "q": 1, "value": 2.0}


def test_rates_json_verdict_key_and_timing(capsys):
    assert main(["rates", "--expert", "linear", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["verdict_key"] == "weak"
    assert "seconds" in d["timing"]


def test_check_plot_writes_exactly_the_file(tmp_path, capsys):
    path = tmp_path / "graph.svg"
    assert main(["check", "tanh(a*x+b)", "--plot", str(path), "--quiet"]) == 0
    assert path.read_text().lstrip().startswith(("<?xml", "<svg"))
    assert [p.name for p in tmp_path.iterdir()] == ["graph.svg"]


def test_check_names_its_stage_on_stderr(capsys):
    assert main(["check", "tanh(a*x+b)"]) == 0
    captured = capsys.readouterr()
    assert "identify: checking tanh(a*x+b)" in captured.err
    assert "identify:" not in captured.out
    assert main(["check", "tanh(a*x+b)", "--quiet"]) == 0
    assert capsys.readouterr().err == ""


def test_derivative_labels_never_confuse_orders_and_components(capsys):
    assert main(["check", "tanh(a1*x1+a2*x2+b)", "--dim", "2", "--json", "--order", "2"]) == 0
    labels = [m["label"] for m in json.loads(capsys.readouterr().out)["family"]]
    assert "dF/da_2" in labels and "d2F/(da_1 da_1)" in labels
    assert not any("da2" in lab or "^" in lab for lab in labels)


def test_catalog_check_names_its_progress_on_stderr_and_json_is_quiet(capsys):
    assert main(["catalog", "--check"]) == 0
    captured = capsys.readouterr()
    assert "catalog --check (d = 1)" in captured.err and "/22 " in captured.err
    assert "catalog --check" not in captured.out and "ridge-tanh" in captured.out
    assert main(["catalog", "--check", "--json"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    rows = json.loads(captured.out)
    assert all("verdict_key" in r and "timing" in r and "seconds" not in r for r in rows)
