"""Truth files with wrong types, shapes or values: one ConfigError naming the file and the key."""

from __future__ import annotations

import pytest

from identify.errors import ConfigError
from identify.numeric.schema import validate
from identify.numeric.truth import load_preset, load_truth_file, preset_names

_BASE = {
    "model": 'expert = "a*x+b"',
    "atoms": ["beta0 = 0.5\nbeta1 = 4.0\na = 1.5\nb = -0.5",
              "beta0 = 0.0\nbeta1 = 0.0\na = -1.0\nb = 0.5"],
}


def _toml(model: str = _BASE["model"], atoms: list[str] | None = None, top: str = "",
          tables: str = "") -> str:
    atoms = _BASE["atoms"] if atoms is None else atoms
    return (top + "\n[model]\n" + model + "\n" + tables + "\n"
            + "".join(f"\n[[atoms]]\n{a}\n" for a in atoms))


def test_the_base_file_loads(tmp_path):
    path = tmp_path / "ok.toml"
    path.write_text(_toml(tables="[inputs]\nkind = \"gaussian-mixture\"\nmeans = [-0.5, 0.5]\n"
                                 "sds = [0.3, 0.3]\nweights = [1, 2]\n[noise]\nsd = 0\n"
                                 "[sweep]\nfitted_k = [2, 3]\nn = [100, 200]\nreplicates = 2\n"))
    model, truth, sweep = load_truth_file(path)
    assert truth.k == 2 and truth.inputs.weights == (1, 2) and sweep["n"] == [100, 200]
    assert model.expert.formula == "a*x+b"


@pytest.mark.parametrize("name", preset_names())
def test_shipped_presets_pass_the_schema(name):
    assert load_preset(name)[1].k >= 1


_A2 = _BASE["atoms"][1]
CASES = [  # (model lines, atoms, top-level text, more tables, key named in the error)
    ('expert = 5', None, "", "", "model.expert"),
    ('expert = ["a*x"]', None, "", "", "model.expert"),
    ('expert = "a*x+b"\ndim = "abc"', None, "", "", "model.dim"),
    ('expert = "a*x+b"\ndim = nan', None, "", "", "model.dim"),
    ('expert = "a*x+b"\ndim = inf', None, "", "", "model.dim"),
    ('expert = "a*x+b"\ndim = [1]', None, "", "", "model.dim"),
    ('expert = "a*x+b"\ndim = 1.9', None, "", "", "model.dim"),
    ('expert = "a*x+b"\ndim = true', None, "", "", "model.dim"),
    ('expert = "a*x+b"\ndim = 100000000', None, "", "", "model.dim"),
    ('expert = "a*x+b"\ngate = 3', None, "", "", "model.gate"),
    ('expert = "a*x+b"\ncolour = "red"', None, "", "", "model.colour"),
    (None, ["beta0 = 0.5\nbeta1 = 4.0\na = \"abc\"\nb = -0.5", _A2], "", "", "atoms[0].a"),
    (None, ["beta0 = 0.5\nbeta1 = 4.0\na = [1.5]\nb = -0.5", _A2], "", "", "atoms[0].a"),
    (None, ["beta0 = 0.5\nbeta1 = 4.0\na = true\nb = -0.5", _A2], "", "", "atoms[0].a"),
    (None, ["beta0 = 0.5\nbeta1 = 4.0\na = nan\nb = -0.5", _A2], "", "", "atoms[0].a"),
    (None, ["beta0 = 0.5\nbeta1 = 4.0\na = inf\nb = -0.5", _A2], "", "", "atoms[0].a"),
    (None, ["beta0 = 0.5\nbeta1 = 4.0\na = -inf\nb = -0.5", _A2], "", "", "atoms[0].a"),
    (None, [], "atoms = 5", "", "atoms"),
    (None, [], "atoms = [1, 2]", "", "atoms[0]"),
    (None, [], 'atoms = ["a", "b"]', "", "atoms[0]"),
    (None, [], "atoms = [[1.0, 2.0]]", "", "atoms[0]"),
    (None, [], "", "", "atoms"),
    (None, None, "", "[inputs]\nkind = \"uniform\"\ncolour = 1", "inputs.colour"),
    (None, None, "", "[inputs]\nlow = \"a\"", "inputs.low"),
    (None, None, "", "[inputs]\nlow = -inf", "inputs.low"),
    (None, None, "", "[inputs]\nhigh = nan", "inputs.high"),
    (None, None, "", "[inputs]\nlow = 2.0\nhigh = 1.0", "inputs.high"),
    (None, None, "", "[inputs]\nkind = \"cauchy\"", "inputs.kind"),
    (None, None, "", "[inputs]\nmeans = [\"a\", 0.5]", "inputs.means[0]"),
    (None, None, "", "[inputs]\nweights = [-1.0, 2.0]", "inputs.weights[0]"),
    (None, None, "", "[inputs]\nweights = [0.0, 0.0]", "inputs.weights"),
    (None, None, "", "[inputs]\nsds = [0.0, 0.3]", "inputs.sds[0]"),
    (None, None, "", "[inputs]\nmeans = [0.1, 0.2, 0.3]", "inputs"),
    (None, None, "inputs = 5", "", "inputs"),
    (None, None, "inputs = \"uniform\"", "", "inputs"),
    (None, None, "noise = 0.1", "", "noise"),
    (None, None, "shared = [1]", "", "shared"),
    (None, None, "", "[noise]\nsd = \"abc\"", "noise.sd"),
    (None, None, "", "[noise]\nsd = inf", "noise.sd"),
    (None, None, "", "[noise]\nsd = -0.1", "noise.sd"),
    (None, None, "", "[shared]\ntau = \"x\"", "shared.tau"),
    (None, None, "", "[shared]\ntau = nan", "shared.tau"),
    (None, None, "", "[sweep]\nfitted_k = 2", "sweep.fitted_k"),
    (None, None, "", "[sweep]\nfitted_k = \"abc\"", "sweep.fitted_k"),
    (None, None, "", "[sweep]\nfitted_k = [nan]", "sweep.fitted_k[0]"),
    (None, None, "", "[sweep]\nfitted_k = [2.7]", "sweep.fitted_k[0]"),
    (None, None, "", "[sweep]\nfitted_k = [100000000000000000000]", "sweep.fitted_k"),
    (None, None, "", "[sweep]\nfitted_k = []", "sweep.fitted_k"),
    (None, None, "", "[sweep]\nn = 100", "sweep.n"),
    (None, None, "", "[sweep]\nn = [nan]", "sweep.n"),
    (None, None, "", "[sweep]\nn = [100.7]", "sweep.n"),
    (None, None, "", "[sweep]\nn = [1000000000]", "sweep.n"),
    (None, None, "", "[sweep]\nreplicates = 1e11", "sweep.replicates"),
    (None, None, "", "[sweep]\nreplicates = 0", "sweep.replicates"),
    (None, None, "", "[sweep]\nrepeats = 3", "sweep.repeats"),
    (None, None, "sweep = 5", "", "sweep"),
    (None, None, "name = 5", "", "name"),
    (None, None, "model = \"a*x\"", "", "model"),
    (None, None, "colour = 1", "", "colour"),
]


@pytest.mark.parametrize(("model", "atoms", "top", "tables", "key"), CASES)
def test_hostile_truth_file_is_one_clear_error(tmp_path, model, atoms, top, tables, key):
    if top.startswith("model ="):
        text = top + "".join(f"\n[[atoms]]\n{a}\n" for a in _BASE["atoms"])
    elif top.startswith("atoms ="):
        text = top + "\n[model]\n" + _BASE["model"] + "\n"
    else:
        text = _toml(model or _BASE["model"], atoms, top, tables)
    path = tmp_path / "hostile.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_truth_file(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    assert f"{key}:" in message or f"{key}." in message or f"{key}[" in message, message
    assert "expected" in message


def test_the_message_names_file_key_and_expectation():
    with pytest.raises(ConfigError, match=r"f\.toml: model\.dim: expected an integer from 1 to 8, "
                                          r"got 1\.9"):
        validate({"model": {"expert": "a*x", "dim": 1.9}, "atoms": [{"a": 1}]}, "f.toml")


def test_values_are_never_coerced(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text(_toml(tables="[sweep]\nfitted_k = [2, 3]\nn = \"1e2:1e3:3\"\nreplicates = 2"))
    _, truth, sweep = load_truth_file(path)
    assert sweep == {"fitted_k": [2, 3], "n": "1e2:1e3:3", "replicates": 2}
    assert all(type(v) is float for atom in truth.atoms for v in atom.values())
