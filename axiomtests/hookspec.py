"""Hook specifications of the axiomtests plugin: how a conftest or a package adds claims of its own.

A user claim is data, as ours are (the keys of ``claims.toml``), plus a test that measures it. It runs, gates,
reports and compares exactly like the built-in claims::

    # conftest.py
    def pytest_axiomtests_claims(config):
        return '''
        [[claim]]
        id = "team.cls_attention"
        statement = "[CLS] attends to the document"
        provenance = "our model card, section 3"
        metric = "mean [CLS]→document attention of the last layer"
        threshold = ">= 0.2"
        why = "the ranker must read the document"
        '''
"""

from __future__ import annotations

import pytest


@pytest.hookspec
def pytest_axiomtests_claims(config: pytest.Config) -> str | None:
    """Return TOML ``[[claim]]`` tables to register beside the built-in claims (ids must be new), or None.

    Called once at configure time, from the plugins and the initial conftests. A test marked
    ``@pytest.mark.claim("<id>")`` then measures the claim and records it with the ``check_claim`` fixture:
    ``check_claim(CLAIMS["<id>"].result(value, items=items))``. ``items`` (:class:`circuits.items.Items`, optional)
    are the per-item values the value was bootstrapped over (``value = items.bootstrap(statistic, unit=...,
    seed=...)``): they land in ``items.csv.gz``, and ``axiomtests compare`` compares them item by item.
    """
