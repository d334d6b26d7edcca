"""The behavioural measures (circuits.axioms) judged by the registry: BM25, which has TF, saturation and length
normalisation by construction, is the planted model and passes TFC1, TFC2 and LNC1; a scorer of pure noise is
the random model and fails them in nearly every draw."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace

import numpy as np
import pytest

from axiomtests.claims import CLAIMS
from circuits.axioms import compliance, level_curves, lower_at_end
from circuits.items import Items
from circuits.measures.axioms import (compliance_measure, length_matched_gains, saturation_against_a_line,
                                     share_beyond_indifference)
from circuits.bm25 import BM25, analyze
from circuits.saturation import saturation_unmet

TOPIC = ("river bank money water city music science history garden engine planet forest doctor market winter "
         "bridge violin harbor castle desert island signal battery village theatre").split()
FILLER = ("people often say that many things happen during the day while others wait for some time before "
          "going home again").split()
QUERIES = 60


class BM25Scorer:
    """Lexical BM25 over the synthetic collection, behind the cross-encoder's ``score_pairs``."""

    def __init__(self, documents: list[str]) -> None:
        self.bm25 = BM25(analyze(d) for d in documents)

    def score_pairs(self, queries: list[str], documents: list[str]) -> np.ndarray:
        return np.array([self.bm25.score(analyze(q), analyze(d)) for q, d in zip(queries, documents)])


class NoiseScorer:
    """A random model: a fixed Gaussian score per (query, document) text, seeded."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def score_pairs(self, queries: list[str], documents: list[str]) -> np.ndarray:
        def one(q: str, d: str) -> float:
            digest = hashlib.sha256(f"{self.seed}\x00{q}\x00{d}".encode()).digest()
            return float(np.random.default_rng(int.from_bytes(digest[:8], "little")).standard_normal())

        return np.array([one(q, d) for q, d in zip(queries, documents)])


class LengthScorer:
    """A scorer of document length only: ``sign`` +1 rewards longer documents, -1 penalises them."""

    def __init__(self, sign: float) -> None:
        self.sign = sign

    def score_pairs(self, queries: list[str], documents: list[str]) -> np.ndarray:
        return self.sign * np.array([len(d.split()) for d in documents], float)


def synthetic(seed: int = 0):
    """TFC1 pairs, TFC2 chains (the term, and a random word in its place, appended k = 0..4 times) and LNC1
    chains (0..3 irrelevant sentences) for ``QUERIES`` two-word queries over a filler collection."""
    rng = np.random.default_rng(seed)
    tfc1, tfc2, lnc1, docs = [], [], [], []
    for n in range(QUERIES):
        term, other = rng.choice(TOPIC, 2, replace=False)
        body = " ".join(rng.choice(FILLER, 25))
        doc = f"{body} {term}"
        docs.append(doc)
        q = SimpleNamespace(query=f"{term} {other}", query_id=f"q{n}", term=term)
        tfc1.append(SimpleNamespace(**vars(q), id=f"TFC1/q{n}", document=doc, perturbed=f"{doc} {term}",
                                    stratum="tf1"))
        word = rng.choice([w for w in TOPIC if w not in (term, other)])
        for variant, added in (("term", term), ("word", word)):  # the query term, and a random word in its place
            texts = [body + f" {added}" * k for k in range(5)]
            tfc2 += [SimpleNamespace(**vars(q), variant=variant, document=texts[k], perturbed=texts[k + 1],
                                     level_baseline=k, level_perturbed=k + 1) for k in range(4)]
        longer = [doc] + [doc + " " + " ".join(rng.choice(FILLER, 12 * i)) for i in range(1, 4)]
        lnc1 += [SimpleNamespace(**vars(q), document=longer[i], perturbed=longer[i + 1], level_baseline=i,
                                 level_perturbed=i + 1) for i in range(3)]
    return tfc1, tfc2, lnc1, docs


def tfc1_verdict(model, pairs) -> bool:
    share, indifference, items, details = compliance_measure(model, pairs, seed=0)
    result = CLAIMS["axiom.tfc1"].result(share, control=indifference, items=items, **details)
    assert result.items.ids == tuple(p.id for p in pairs) and result.items.n_units == len({p.query_id for p in pairs})
    return result.status == "pass"


def tfc2_verdict(model, pairs) -> bool:
    (qids, term), (_, word) = (level_curves(model, [p for p in pairs if p.variant == v]) for v in ("term", "word"))
    value, first, line, items = saturation_against_a_line(qids, np.diff(term, axis=1) - np.diff(word, axis=1), seed=0)
    result = CLAIMS["axiom.tfc2"].result(value, control=line, unmet=saturation_unmet(first, value.value), items=items)
    return result.status == "pass"


def lnc1_verdict(model, pairs) -> bool:
    qids, matrix = level_curves(model, pairs)
    items = Items.of(qids, qids, score=matrix, ok=lower_at_end(matrix))
    share, indifference = share_beyond_indifference(items, seed=0)
    return CLAIMS["axiom.lnc1"].result(share, control=indifference, items=items).status == "pass"


@pytest.fixture(scope="module")
def data():
    return synthetic()


@pytest.mark.parametrize("verdict, index", [(tfc1_verdict, 0), (tfc2_verdict, 1), (lnc1_verdict, 2)],
                         ids=["tfc1", "tfc2", "lnc1"])
def test_bm25_passes_and_noise_fails(data, verdict, index):
    pairs, docs = data[index], data[3]
    assert verdict(BM25Scorer(docs), pairs), "the planted model (BM25) must pass"
    passed = [verdict(NoiseScorer(seed), pairs) for seed in range(10)]
    assert not any(passed), f"a noise scorer passes in {sum(passed)} of 10 draws"


def test_level_curves_refuse_ragged_chains(data):
    pairs = [p for p in data[1] if p.variant == "term"][:-1]  # the last query loses its top level
    with pytest.raises(ValueError, match="different numbers of levels"):
        level_curves(BM25Scorer(data[3]), pairs)


def test_compliance_counts_rises_per_stratum():
    pairs = [SimpleNamespace(query_id=q, stratum=s) for q, s in (("a", "x"), ("a", "y"), ("b", "x"))]
    ok, summary = compliance(np.array([0.5, -1.0, 0.0]), pairs)
    assert ok.tolist() == [1.0, 0.0, 0.0]
    assert summary["per_stratum"] == {"x": 0.5, "y": 0.0} and summary["queries"] == 2


def random_word_controls(pairs, seed: int = 0) -> list:
    """Each TFC1 pair's document with a topic word in neither the query nor the document appended instead of the
    term (ids ``RANDOM/<pair id>``, as :func:`axiomtests.perturb.random_word_pair`)."""
    rng = np.random.default_rng(seed)
    out = []
    for p in pairs:
        word = rng.choice([w for w in TOPIC if w not in p.query.split() + p.document.split()])
        out.append(SimpleNamespace(id=f"RANDOM/{p.id}", perturbed=f"{p.document} {word}"))
    return out


def matched_tfc1_verdict(model, pairs, controls) -> bool:
    kept, d = length_matched_gains(model, pairs, controls)
    share, indifference, items, details = compliance_measure(model, kept, 0, d)
    return CLAIMS["axiom.tfc1"].result(share, control=indifference, items=items, **details).status == "pass"


def test_length_matched_tfc1_tells_term_matching_from_length():
    """Issue 24: against the unperturbed document (a word shorter), a scorer that only rewards length passes TFC1;
    length-matched, it fails, as one that only penalises length does either way; BM25 passes length-matched."""
    pairs, _, _, docs = synthetic()
    controls = random_word_controls(pairs)
    assert tfc1_verdict(LengthScorer(+1), pairs) and not matched_tfc1_verdict(LengthScorer(+1), pairs, controls)
    assert not tfc1_verdict(LengthScorer(-1), pairs) and not matched_tfc1_verdict(LengthScorer(-1), pairs, controls)
    assert matched_tfc1_verdict(BM25Scorer(docs), pairs, controls)
    assert not any(matched_tfc1_verdict(NoiseScorer(seed), pairs, controls) for seed in range(10))
