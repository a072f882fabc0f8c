"""The public API is pinned: adding or removing a name is a deliberate change."""

import identify


def test_public_names_are_pinned():
    assert sorted(identify.__all__) == sorted([
        "Expert", "Gate", "GATES", "Model", "Estimator", "build_model", "CATALOG",
        "catalog_expert", "check", "CheckResult", "Verdict", "IdentifyError", "FormulaError",
        "ConfigError",
    ])
    for name in identify.__all__:
        assert hasattr(identify, name)
