"""Fixtures shared by the claim modules: corpus, diagnostic datasets, IDF, scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session")
def corpus(axiom_session):
    """The base corpus: ``--axiom-corpus`` (BEIR folder or ir_datasets id) or the embedded default."""
    from axiomtests.corpus import load_source

    return load_source(axiom_session.corpus)


@pytest.fixture(scope="session")
def tokenizer_dir(hooked_model, tmp_path_factory) -> Path:
    """A folder holding the checkpoint's tokenizer (datasets are built and aligned with it)."""
    folder = tmp_path_factory.mktemp("tokenizer") / "tokenizer"
    hooked_model.tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def datasets(axiom_session, hooked_model, tokenizer_dir, axiom_report) -> dict:
    """Every diagnostic dataset, built for this tokenizer (cached), checked against its manifest."""
    from axiomtests.diagnostics import ensure_datasets, load_datasets, load_manifest

    folder = ensure_datasets(seed=axiom_session.seed, source=axiom_session.corpus, tokenizer_dir=tokenizer_dir)
    manifest = load_manifest(folder)
    axiom_report.datasets = {"generator": manifest["generator"], "seed": manifest["seed"],
                             "files": manifest["files"], "sources": manifest.get("sources", {})}
    return load_datasets(folder, tokenizer=hooked_model.tokenizer, validate=False)


@pytest.fixture(scope="session")
def idf_table(corpus, hooked_model, axiom_report):
    """Wordpiece IDF of the base corpus for this tokenizer (wordfreq estimates where the corpus lacks a word)."""
    from axiomtests.diagnostics import corpus_fingerprint
    from circuits.idf_tables import wordpiece_idf_table

    table = wordpiece_idf_table(corpus.docs, hooked_model.tokenizer,
                                corpus=f"{corpus.name}@{corpus_fingerprint(corpus)[:12]}")
    axiom_report.sections["idf source"] = table.describe()
    return table


@pytest.fixture(scope="session")
def vocab_idf(idf_table, hooked_model) -> tuple[np.ndarray, np.ndarray]:
    """``(idf, source)`` per vocabulary id."""
    tok = hooked_model.tokenizer
    return idf_table.vector(tok.convert_ids_to_tokens(list(range(len(tok)))))


def mean_ci(values, groups, seed: int) -> tuple[float, float]:
    """95% bootstrap CI of the mean of ``values``, resampling whole groups (queries)."""
    from circuits.stats import bootstrap_ratio_ci

    values = np.asarray(values, dtype=np.float64)
    low, high = bootstrap_ratio_ci(values[:, None], np.zeros(len(values)), np.ones(len(values)), list(groups),
                                   seed=seed)
    return float(low[0]), float(high[0])
