"""Fixtures shared by the claim modules."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def corpus(axiom_session):
    """The base corpus: ``--axiom-corpus`` (BEIR folder or ir_datasets id) or the embedded default."""
    from axiomtests.corpus import load_source

    return load_source(axiom_session.corpus)
