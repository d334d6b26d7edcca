"""Build the diagnostic datasets TFC1, STMC1, TFC2, LNC1 (+ filler controls).

``build_datasets(out_dir)`` writes one JSON-lines file per axiom (records of :class:`~axiomtests.perturb.Pair`,
sorted by id) and ``manifest.json`` (generator version, seed, sizes, source hashes, sha256 and record
count of every file, counts per axiom and stratum, skip reasons). Two builds with the same arguments give
byte-identical files. The files hold MS MARCO text (research-only terms): write them to the cache
(:func:`axiomtests.dataset_cache.ensure_datasets`) or an output folder, never to the repository; only manifests
are committed. :mod:`axiomtests.dataset_files` reads a built folder back.

Selection rules (seeded with ``random.Random(f"{seed}/{axiom}/...")``, never looking at a model score):

* TFC1 / STMC1: queries in seeded order; per query one term, drawn uniformly among its eligible terms
  (:func:`~axiomtests.perturb.eligible_terms`) that have a WordNet candidate; then up to
  ``tfc1_docs_per_stratum`` passages drawn from each stratum (term absent: 0->1; present: k->k+1),
  until each stratum holds ``tfc1_pairs_per_stratum`` pairs.
  STMC1 uses the same (query, passage, term) and appends the best candidate instead.
* TFC2: queries in seeded order; terms that are mainly nouns in WordNet (at least as many noun senses as
  all others together), in seeded order; the first passage (in retrieval order) with ``levels``
  occurrences in a short run of sentences gives both variants.
* LNC1: queries in seeded order; a seeded relevant passage (any, if none is judged); sentences from the
  passages of another query (seeded), neither retrieved for nor judged for this one.
* FILLER: one control per padded pair (:func:`~axiomtests.perturb.filler_control`).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from axiomtests import perturb as P
from axiomtests.dataset_files import FILES, FORMAT, MANIFEST, SAVED_AS, corpus_fingerprint, tokenizer_fingerprint
from axiomtests.sources import atomic_write
from axiomtests.tokens import base_tokenizer
from axiomtests.wordlists import WORDNET_SOURCE, wordnet
from circuits.errors import DatasetError
from circuits.query_order import seeded_order

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from axiomtests.corpus import Corpus

__all__ = ["BuildConfig", "build_datasets"]

LICENSE_NOTE = ("The built files hold MS MARCO text under research-only terms: keep them out of version "
                "control; commit only this manifest.")


@dataclass(frozen=True)
class BuildConfig:
    """Sizes and text limits of a build (defaults keep patching cheap: 128 TFC1 and 128 STMC1 pairs)."""

    tfc1_pairs_per_stratum: int = 64
    tfc1_docs_per_stratum: int = 1
    tfc2_queries: int = 50
    lnc1_queries: int = 50
    levels: int = 5
    filler: str = P.DEFAULT_FILLER
    min_words: int = 40
    max_words: int = 100
    tfc2_max_words: int = 150
    sentence_min_words: int = 6
    sentence_max_words: int = 30
    lnc1_other_queries: int = 20

    @classmethod
    def for_pairs(cls, pairs: int) -> "BuildConfig":
        """Sizes that scale with ``--axiom-pairs`` (64 gives the defaults): ``pairs`` TFC1/STMC1 pairs per stratum
        (one passage per query and stratum, more once the queries run short), and TFC2/LNC1 queries in the
        default proportion 50:64. The corpus caps what a build can find; the manifest records what it found."""
        if pairs < 1:
            raise ValueError(f"pairs must be at least 1, got {pairs}")
        scaled = max(1, round(pairs * cls.tfc2_queries / cls.tfc1_pairs_per_stratum))
        return cls(tfc1_pairs_per_stratum=pairs, tfc1_docs_per_stratum=-(-pairs // cls.tfc1_pairs_per_stratum),
                   tfc2_queries=scaled, lnc1_queries=scaled)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "filler" and (not isinstance(value, int) or value < (0 if "queries" in f.name else 1)):
                raise ValueError(f"BuildConfig.{f.name} must be a positive integer, got {value!r}")
        if not self.min_words <= self.max_words or not self.sentence_min_words <= self.sentence_max_words:
            raise ValueError("BuildConfig needs min_words <= max_words and sentence_min_words <= sentence_max_words")


# --------------------------------------------------------------------------- selection

class _Skips:
    def __init__(self) -> None:
        self.counts: dict[str, Counter[str]] = defaultdict(Counter)

    def add(self, axiom: str, kind: str) -> None:
        self.counts[axiom][kind] += 1

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {axiom: dict(sorted(c.items())) for axiom, c in sorted(self.counts.items())}


def _order(seed: int, axiom: str, query_ids: Sequence[str]) -> list[str]:
    return seeded_order(query_ids, random.Random(f"{seed}/{axiom}/order"))


def _tfc1_stmc1(by_query: Mapping[str, list[P.BasePair]], *, tokenizer: PreTrainedTokenizerBase,
                reference: P.ReferenceEmbedding, seed: int, cfg: BuildConfig,
                skips: _Skips) -> tuple[list[P.Pair], list[P.Pair]]:
    tfc1: list[P.Pair] = []
    stmc1: list[P.Pair] = []
    room = {"0->1": cfg.tfc1_pairs_per_stratum, "k->k+1": cfg.tfc1_pairs_per_stratum}
    for query_id in _order(seed, "TFC1", list(by_query)):
        if not any(room.values()):
            break
        query = by_query[query_id][0].query
        eligible, skipped = P.eligible_terms(query, tokenizer)
        candidates = {t: P.synonym_candidates(t, query=query, tokenizer=tokenizer, reference=reference)
                      for t in eligible}
        usable = [t for t in eligible if candidates[t]]
        if not usable:
            skips.add("TFC1", "query: no eligible term with a WordNet candidate")
            continue
        rng = random.Random(f"{seed}/TFC1/{query_id}")
        term = rng.choice(usable)
        details = {"term_rule": "seeded uniform choice among eligible terms with a WordNet candidate",
                   "eligible_terms": usable, "skipped_terms": {
                       **skipped, **{t: "no WordNet candidate" for t in eligible if not candidates[t]}}}
        strata: dict[str, list[tuple[P.Pair, P.Pair]]] = {"0->1": [], "k->k+1": []}
        for base in by_query[query_id]:
            try:
                pair = P.tfc1_pair(base, term, tokenizer=tokenizer, filler=cfg.filler, details=details)
                twin = P.stmc1_pair(base, term, candidates[term], tokenizer=tokenizer, filler=cfg.filler,
                                    details=details)
            except P.NotApplicable as exc:
                skips.add("TFC1", exc.kind)
                continue
            strata[pair.stratum].append((pair, twin))
        for stratum, group in strata.items():
            chosen = rng.sample(group, min(cfg.tfc1_docs_per_stratum, len(group), room[stratum]))
            room[stratum] -= len(chosen)
            tfc1 += [p for p, _ in chosen]
            stmc1 += [t for _, t in chosen]
    return tfc1, stmc1


def _mainly_noun(counts: Mapping[str, int]) -> bool:
    """WordNet has at least as many noun senses as all other senses together (so a pronoun can stand in)."""
    return counts["n"] > 0 and counts["n"] >= sum(n for pos, n in counts.items() if pos != "n")


def _tfc2(by_query: Mapping[str, list[P.BasePair]], *, tokenizer: PreTrainedTokenizerBase, seed: int,
          cfg: BuildConfig, skips: _Skips) -> list[P.Pair]:
    wn = wordnet()
    out: list[P.Pair] = []
    n_queries = 0
    for query_id in _order(seed, "TFC2", list(by_query)):
        if n_queries == cfg.tfc2_queries:
            break
        eligible, _ = P.eligible_terms(by_query[query_id][0].query, tokenizer)
        nouns = [t for t in eligible if _mainly_noun(wn.pos_counts(t))]
        random.Random(f"{seed}/TFC2/{query_id}").shuffle(nouns)
        found = _first_tfc2(by_query[query_id], nouns, tokenizer=tokenizer, cfg=cfg, skips=skips)
        if found:
            n_queries += 1
            out += found
        else:
            skips.add("TFC2", "query: no mainly-noun term with a passage of enough occurrences")
    return out


def _first_tfc2(bases: list[P.BasePair], nouns: list[str], *, tokenizer: PreTrainedTokenizerBase,
                cfg: BuildConfig, skips: _Skips) -> list[P.Pair]:
    for term in nouns:
        pronoun = P.tfc2_pronoun(term)
        for base in bases:
            try:
                return [pair for variant in P.TFC2_VARIANTS for pair in P.tfc2_pairs(
                    base, term, tokenizer=tokenizer, variant=variant, pronoun=pronoun, levels=cfg.levels,
                    max_words=cfg.tfc2_max_words, filler=cfg.filler,
                    details={"term_rule": "seeded order over eligible, mainly-noun terms; first passage that fits"})]
            except P.NotApplicable as exc:
                if exc.kind != "no_window":
                    skips.add("TFC2", exc.kind)
    return []


def _lnc1(corpus: Corpus, by_query: Mapping[str, list[P.BasePair]], *, tokenizer: PreTrainedTokenizerBase,
          seed: int, cfg: BuildConfig, skips: _Skips) -> list[P.Pair]:
    out: list[P.Pair] = []
    n_queries = 0
    query_ids = sorted(by_query)
    for query_id in _order(seed, "LNC1", query_ids):
        if n_queries == cfg.lnc1_queries:
            break
        rng = random.Random(f"{seed}/LNC1/{query_id}")
        bases = by_query[query_id]
        base = rng.choice([b for b in bases if b.relevance > 0] or bases)
        related = {*corpus.retrieved.get(query_id, ()), *corpus.qrels.get(query_id, {}), *(b.doc_id for b in bases)}
        others = seeded_order((q for q in query_ids if q != query_id), rng)
        for other in others[: cfg.lnc1_other_queries]:
            pool = [(b.doc_id, b.passage) for b in by_query[other] if b.doc_id not in related]
            sentences = P.irrelevant_sentences(base.query, pool, n=cfg.levels, min_words=cfg.sentence_min_words,
                                               max_words=cfg.sentence_max_words)
            if len(sentences) == cfg.levels:
                break
        else:
            skips.add("LNC1", "query: no other query gives enough sentences free of its terms")
            continue
        try:
            out += P.lnc1_pairs(base, sentences, tokenizer=tokenizer, filler=cfg.filler,
                                details={"other_query_id": other, "base_rule": "seeded choice among relevant passages"})
        except P.NotApplicable as exc:
            skips.add("LNC1", exc.kind)
            continue
        n_queries += 1
    return out


# --------------------------------------------------------------------------- build

def _dumps_record(pair: P.Pair) -> str:
    return json.dumps(pair.to_json(), sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n"


def build_datasets(out_dir: str | os.PathLike, source: str | None = None, seed: int = 0,
                   tokenizer: PreTrainedTokenizerBase | None = None, *, config: BuildConfig | None = None,
                   reference_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """Build every diagnostic dataset into ``out_dir`` and return its manifest (also written there).

    ``source``: ``None`` for the local corpus, a BEIR folder, or an ``ir_datasets`` id
    (:func:`axiomtests.corpus.load_source`). ``tokenizer``: the fast tokenizer of the model under test
    (default: the base all-MiniLM-L6-v2's, whose vocabulary is the paper's). ``reference_dir``: the
    checkpoint whose word embeddings rank STMC1 candidates (default: the base all-MiniLM-L6-v2).
    Every pair is validated before anything is written; a failure is a generator bug and raises.

    Examples
    --------
    >>> manifest = build_datasets("out/diagnostics")                  # doctest: +SKIP
    >>> manifest["counts"]["TFC1"]                                    # doctest: +SKIP
    {'0->1': 64, 'k->k+1': 64}
    """
    from axiomtests.corpus import load_source

    cfg = config or BuildConfig()
    named = tokenizer is not None
    tokenizer = tokenizer if named else base_tokenizer()
    if not tokenizer.is_fast:
        raise DatasetError(f"the tokenizer {tokenizer.name_or_path!r} is not a fast (Rust) tokenizer; the datasets "
                           f"need token offsets: save the checkpoint with a tokenizer.json")
    corpus = load_source(source)
    reference = P.ReferenceEmbedding.load(reference_dir)
    P.filler_token(tokenizer, cfg.filler)
    base = P.base_set(corpus, min_words=cfg.min_words, max_words=cfg.max_words)
    if not base:
        raise DatasetError(f"no passage of {corpus!r} can be cut at a sentence boundary into {cfg.min_words} to "
                           f"{cfg.max_words} words; check the source or lower BuildConfig.min_words")
    by_query: dict[str, list[P.BasePair]] = defaultdict(list)
    for b in base:
        by_query[b.query_id].append(b)
    skips = _Skips()
    tfc1, stmc1 = _tfc1_stmc1(by_query, tokenizer=tokenizer, reference=reference, seed=seed, cfg=cfg, skips=skips)
    datasets = {"TFC1": tfc1, "STMC1": stmc1,
                "TFC2": _tfc2(by_query, tokenizer=tokenizer, seed=seed, cfg=cfg, skips=skips),
                "LNC1": _lnc1(corpus, by_query, tokenizer=tokenizer, seed=seed, cfg=cfg, skips=skips)}
    datasets["FILLER"] = [P.filler_control(p) for axiom in ("TFC1", "STMC1", "LNC1")
                          for p in datasets[axiom] if p.filler.count]
    for axiom, pairs in datasets.items():
        for pair in pairs:
            P.validate_pair(pair, tokenizer)
        datasets[axiom] = sorted(pairs, key=lambda p: p.id)
        if len({p.id for p in pairs}) != len(pairs):
            raise DatasetError(f"{axiom} has duplicate pair ids; this is a generator bug, please report it")

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    for axiom, pairs in datasets.items():
        data = "".join(_dumps_record(p) for p in pairs).encode("utf-8")
        atomic_write(out / FILES[axiom], data)
        files[FILES[axiom]] = {"sha256": hashlib.sha256(data).hexdigest(), "records": len(pairs), "bytes": len(data)}
    filler_token, filler_id = P.filler_token(tokenizer, cfg.filler)
    manifest = {
        "format": FORMAT,
        "generator": {"module": "axiomtests.perturb", "version": P.GENERATOR_VERSION},
        "seed": seed,
        "config": asdict(cfg),
        "source": {"spec": source or "default", "name": corpus.name, "provenance": corpus.provenance,
                   "sha256": corpus_fingerprint(corpus), "queries": len(corpus.queries), "docs": len(corpus.docs),
                   "base_pairs": len(base), "base_queries": len(by_query)},
        "tokenizer": {"dir_name": SAVED_AS if named else "default (base all-MiniLM-L6-v2)",
                      **tokenizer_fingerprint(tokenizer)},
        "reference_embedding": reference.description,
        "wordnet": WORDNET_SOURCE,
        "filler": {"text": cfg.filler, "token": filler_token, "token_id": filler_id,
                   "position": "appended to the baseline document, before the final separator"},
        "files": files,
        "counts": {axiom: dict(sorted(Counter(p.stratum for p in pairs).items())) for axiom, pairs in datasets.items()},
        "queries": {axiom: len({p.query_id for p in pairs}) for axiom, pairs in datasets.items()},
        "skipped": skips.as_dict(),
        "license": LICENSE_NOTE,
    }
    atomic_write(out / MANIFEST, (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode())
    return manifest
