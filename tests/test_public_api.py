"""The public API is pinned: adding or removing a name is a deliberate change."""

import identify

PUBLIC = sorted([
    "check", "CheckResult", "predict", "Prediction", "simulate", "SimulationResult", "report",
    "Report", "catalog", "Catalog", "CATALOG", "catalog_expert", "GATES", "Expert", "Gate",
    "Model", "Estimator", "build_model", "Verdict", "IdentifyError", "FormulaError",
    "ConfigError",
])


def test_public_names_are_pinned():
    assert sorted(identify.__all__) == PUBLIC
    for name in identify.__all__:
        assert hasattr(identify, name)


def test_dir_shows_the_public_names():
    names = set(dir(identify))
    assert set(PUBLIC) <= names
    assert callable(identify.report) and callable(identify.catalog)  # not the subpackages


def test_every_public_function_is_documented():
    import inspect

    for name in identify.__all__:
        obj = getattr(identify, name)
        if inspect.isfunction(obj):
            assert (obj.__doc__ or "").strip(), f"identify.{name} has no docstring"
    assert all(f":func:`{n}`" in identify.__doc__ for n in ("check", "predict", "simulate",
                                                             "report", "catalog"))
