"""Fixtures shared by the claim modules: corpus, diagnostic datasets, IDF, roles, patching, the SemanticBM study."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from axiomtests.claims import CLAIMS
from circuits.bm25 import BM25, analyze
from circuits.pairs import align_records
from circuits.query_order import seeded_order
from circuits.semantic_study import Circuit, Source, by_dataset, control_circuits, evaluate_group


@pytest.fixture(scope="session")
def corpus(axiom_session):
    """The base corpus: ``--axiom-corpus`` (BEIR folder or ir_datasets id) or the embedded default."""
    from axiomtests.corpus import load_source

    return load_source(axiom_session.corpus)


@pytest.fixture(scope="session")
def datasets(axiom_session, hooked_model, axiom_report) -> dict:
    """Every diagnostic dataset, built for the checkpoint's tokenizer at the sizes of ``--axiom-pairs`` (cached),
    checked against its manifest."""
    from axiomtests.dataset_cache import ensure_datasets
    from axiomtests.dataset_files import load_datasets, load_manifest
    from axiomtests.diagnostics import BuildConfig

    folder = ensure_datasets(seed=axiom_session.seed, source=axiom_session.corpus, tokenizer=hooked_model.tokenizer,
                             config=BuildConfig.for_pairs(axiom_session.pairs))
    manifest = load_manifest(folder)
    axiom_report.datasets = {"generator": manifest["generator"], "seed": manifest["seed"],
                             "files": manifest["files"], "sources": manifest.get("sources", {})}
    _refuse_incomparable_baseline(axiom_session, axiom_report)
    return load_datasets(folder, tokenizer=hooked_model.tokenizer, validate=False)


def _refuse_incomparable_baseline(axiom_session, report) -> None:
    """Once the datasets are known, the baseline must match them (and the score mode): else stop the session."""
    from axiomtests.gate import comparable_fields

    try:
        axiom_session.check_comparable(comparable_fields(report))
    except pytest.UsageError as exc:
        pytest.exit(f"usage error: {exc}", returncode=pytest.ExitCode.USAGE_ERROR)


@pytest.fixture(scope="session")
def idf_table(corpus, hooked_model, report_section):
    """Wordpiece IDF of the base corpus for this tokenizer (wordfreq estimates where the corpus lacks a word)."""
    from axiomtests.dataset_files import corpus_fingerprint
    from circuits.idf_tables import wordpiece_idf_table

    table = wordpiece_idf_table(corpus.docs, hooked_model.tokenizer,
                                corpus=f"{corpus.name}@{corpus_fingerprint(corpus)[:12]}")
    report_section("idf source", table.describe())
    return table


@pytest.fixture(scope="session")
def vocab_idf(idf_table, hooked_model) -> tuple[np.ndarray, np.ndarray]:
    """``(idf, source)`` per vocabulary id."""
    tok = hooked_model.tokenizer
    return idf_table.vector(tok.convert_ids_to_tokens(list(range(len(tok)))))


def whole_word_mask(tokenizer, sources: np.ndarray) -> np.ndarray:
    """Vocabulary ids that are alphabetic whole words (a word start, no special token: ``circuits.vocabulary``)
    seen in the corpus."""
    from circuits.vocabulary import whole_words

    return np.array([w is not None and s == "corpus" for w, s in zip(whole_words(tokenizer), sources)])


@pytest.fixture(scope="session")
def spectrum(hooked_model, vocab_idf):
    """U0 of W_E, sign-canonical (corr with corpus IDF over whole words <= 0, as the paper reports), and the mask."""
    from circuits.idf import u0

    idf, sources = vocab_idf
    mask = whole_word_mask(hooked_model.tokenizer, sources)
    return u0(hooked_model, reference=idf, mask=mask), mask


@pytest.fixture(scope="session")
def matching_heads(hooked_model, datasets, axiom_session):
    """(r on the selection half, r on the held-out half, the matching heads), TFC1 baselines."""
    from circuits.matching import head_similarity_correlation
    from circuits.roles import selection_half, top_matching

    pairs = datasets["TFC1"][: 2 * axiom_session.pairs]
    half = selection_half((p.query_id for p in pairs), axiom_session.seed)
    select, held_out = [p for p in pairs if p.query_id in half], [p for p in pairs if p.query_id not in half]
    r_select = head_similarity_correlation(hooked_model, [p.query for p in select], [p.document for p in select])
    r_held = head_similarity_correlation(hooked_model, [p.query for p in held_out],
                                         [p.document for p in held_out])
    return r_select, r_held, top_matching(r_select)


@pytest.fixture(scope="session")
def tfc1_gains(hooked_model, datasets) -> np.ndarray:
    """The TFC1 gain (perturbed − unpadded baseline score) of every TFC1 pair, scored once for the session."""
    from circuits.axioms import gains

    return gains(hooked_model, datasets["TFC1"])


def sample_indices(n: int, k: int, seed: int) -> list[int]:
    """``k`` of ``n`` indices, seeded, in ascending order."""
    rng = np.random.default_rng(seed)
    return sorted(rng.permutation(n)[: min(k, n)].tolist())


@pytest.fixture(scope="session")
def control_words(hooked_model, vocab_idf) -> list[str]:
    """Whole-word vocabulary entries seen in the corpus, longer than 3 letters, as words (without a SentencePiece or
    byte-level word-start marker): the random words of controls."""
    from circuits.vocabulary import whole_words

    tok = hooked_model.tokenizer
    mask = whole_word_mask(tok, vocab_idf[1])
    return [w for w, keep in zip(whole_words(tok), mask) if keep and len(w) > 3]


@pytest.fixture(scope="session")
def patching_sets(hooked_model, datasets, control_words, axiom_session) -> dict:
    """The same seeded sample of (query, passage, term) in TFC1 and STMC1, aligned for patching; and RANDOM:
    the TFC1 sample with a random corpus word appended instead of the term (the control map)."""
    from axiomtests.perturb import random_word_pairs

    out = {}
    for axiom in ("TFC1", "STMC1"):
        pairs = datasets[axiom]
        chosen = [pairs[i] for i in sample_indices(len(pairs), axiom_session.pairs, axiom_session.seed)]
        out[axiom] = (chosen, align_records(hooked_model, chosen))
    controls = random_word_pairs(out["TFC1"][0], hooked_model.tokenizer, control_words, axiom_session.seed)
    if controls:
        out["RANDOM"] = (controls, align_records(hooked_model, controls))
    return out


@pytest.fixture(scope="session")
def path_to_logit(hooked_model, patching_sets, axiom_session, axiom_report) -> dict:
    """Head→logit path patching effects ``[layer, head]`` on TFC1, STMC1 and the RANDOM control, with heatmaps
    (TFC1, STMC1) in the report dir."""
    from circuits.patching import path_patch
    from circuits.plots import plot_effects

    results = {axiom: path_patch(hooked_model, pairs, seed=axiom_session.seed)
               for axiom, (_, pairs) in patching_sets.items()}
    for axiom, result in results.items():
        if axiom == "RANDOM":
            continue
        figure = figure_path(axiom_session, axiom_report, f"path_to_logit_{axiom.lower()}")
        if figure:
            plot_effects(result, figure, title=f"head → logit path patching, {axiom}")
    return results


def figure_path(axiom_session, report, name: str) -> Path | None:
    """``<report dir>/<name>.png``, listed in the report (the folder created), or None when no report is written."""
    if not axiom_session.report_dir:
        return None
    folder = Path(axiom_session.report_dir)
    folder.mkdir(parents=True, exist_ok=True)
    report.figure(f"{name}.png")
    return folder / f"{name}.png"


@pytest.fixture(scope="session")
def plot_curve(axiom_session, axiom_report):
    """``plot_curve(name, x, curves, title=, xlabel=, ylabel=)``: a curve PNG in the report dir (when there is one)."""
    from circuits.plots import plot_curves

    def plot(name: str, x, curves: dict, **labels) -> Path | None:
        figure = figure_path(axiom_session, axiom_report, name)
        return plot_curves(x, curves, figure, **labels) if figure else None

    return plot


@pytest.fixture(scope="session")
def scoring_heads(path_to_logit) -> list[tuple[int, int]]:
    """Relevance scoring heads by role: head→logit effect above 30% of the top head's on TFC1 and on STMC1 (paper
    §4.1: "exceed the top 30% of causal importance for both TFC1 and STMC1")."""
    from circuits.roles import shared_heads_above_cut

    return shared_heads_above_cut([path_to_logit["TFC1"].effect, path_to_logit["STMC1"].effect])


@pytest.fixture(scope="session")
def path_to_scoring_values(hooked_model, patching_sets, scoring_heads, axiom_session):
    """Path patching into the scoring heads' values on TFC1, STMC1 and the RANDOM control (PatchResults by axiom),
    or the NotComputable that says why there is none (no scoring head above layer 0): claim tests raise it."""
    from circuits.errors import NotComputable
    from circuits.measures.scoring import upstream_maps

    try:
        return upstream_maps(hooked_model, {axiom: aligned for axiom, (_, aligned) in patching_sets.items()},
                             scoring_heads, axiom_session.seed)
    except NotComputable as why:
        return why


def query_length(tokenizer, query: str) -> int:
    return len(tokenizer(query, add_special_tokens=False)["input_ids"])


@pytest.fixture(scope="session")
def sources(corpus, axiom_session) -> dict[str, tuple[Source, list]]:
    """label → (Source, base pairs): the base corpus (ids as they are), then each extra ``--axiom-corpus`` (ids
    prefixed with ``label/`` so that queries of different corpora never merge)."""
    from dataclasses import replace

    from axiomtests.corpus import load_source
    from axiomtests.perturb import base_set

    out = {}
    for n, loaded in enumerate([corpus] + [load_source(spec) for spec in axiom_session.corpora[1:]]):
        label = loaded.name if loaded.name not in out else f"{loaded.name}#{n}"
        prefix = f"{label}/" if n else ""
        pairs = [replace(p, query_id=prefix + p.query_id, doc_id=prefix + p.doc_id) for p in base_set(loaded)]
        qrels = {prefix + q: {prefix + d: r for d, r in judged.items()} for q, judged in loaded.qrels.items()}
        out[label] = (Source(label, BM25(analyze(text) for text in loaded.docs.values()), qrels), pairs)
    return out


@pytest.fixture(scope="session")
def groups(hooked_model, sources, axiom_session) -> dict[int, list]:
    """Base pairs of every corpus by query token length, each group capped (seeded, whole queries) at
    2 × --axiom-pairs; groups with fewer pairs or queries than semantic_bm.fit's ``min_group``/``min_queries``
    are left out."""
    by_length: dict[int, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for _, pairs in sources.values():
        for pair in pairs:
            by_length[query_length(hooked_model.tokenizer, pair.query)][pair.query_id].append(pair)
    rng = np.random.default_rng(axiom_session.seed)
    fit = CLAIMS["semantic_bm.fit"].extra  # min_group: the paper kept groups of > 500 pairs over 12 datasets
    out = {}
    for length, queries in sorted(by_length.items()):
        chosen: list = []
        for qid in seeded_order(queries, rng):
            if len(chosen) >= 2 * axiom_session.pairs:
                break
            chosen += queries[qid]
        if len(chosen) >= fit["min_group"] and len(queries) >= fit["min_queries"]:
            out[length] = chosen
    return out


@pytest.fixture(scope="session")
def evaluated(hooked_model, groups, sources, matching_heads, spectrum, axiom_session, report_section):
    """Per query-length group: (row, out-of-fold predictions) of SemanticBM on the matching heads and −U0, and of
    its control circuits (head sets drawn like the matching heads, random directions ⟂ v0)."""
    heads = matching_heads[2]
    spectrum = spectrum[0]
    controls = control_circuits(hooked_model, heads, spectrum.v0, CLAIMS["semantic_bm.fit"].extra["control_circuits"],
                                axiom_session.seed)
    label_of = {p.query_id: label for label, (_, pairs) in sources.items() for p in pairs}

    def source_of(pair) -> Source:
        return sources[label_of[pair.query_id]][0]

    out = {length: evaluate_group(hooked_model, pairs, Circuit(heads, -spectrum.u0), controls, source_of,
                                  axiom_session.seed) for length, pairs in groups.items()}
    report_section("SemanticBM by query length", [
        {"query_tokens": k, **{key: v for key, v in row.items() if key != "bm25_k1_b_per_fold"}}
        for k, (row, _) in out.items()])
    if len(sources) > 1:
        report_section("SemanticBM by dataset", by_dataset(out, label_of))
    return out
