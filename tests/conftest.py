"""Test order: the notebooks run before the docs build, which renders their executed outputs
from the cache the notebook tests fill (docs/_hooks/notebooks.py), so `make test` executes
each notebook once."""

from __future__ import annotations


def pytest_collection_modifyitems(session, config, items):
    def rank(item) -> int:
        return 0 if item.path.name == "test_notebooks.py" else 1

    items.sort(key=rank)  # stable: the order within each group is kept
