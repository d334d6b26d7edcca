"""The base corpus: TREC RAG 2024 queries over MS MARCO v2.1 segments, labelled by human citations.

The default corpus is read straight out of the pinned ``ir-axioms`` wheel (never installed):
``data/crowd/study1_retrieval.jsonl.gz`` gives 301 queries with 20 retrieved segments each, and the
passages cited by ``kind == "human"`` answers in ``data/crowd/responses.jsonl.gz`` are the relevance
labels. The text carries MS MARCO's research-only terms, so it lives only in the cache, never in the repo.
Other corpora come from BEIR folders or ``ir_datasets`` ids (:func:`load_source`).
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import random
import re
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from axiomtests.sources import IR_AXIOMS, atomic_write, cache_dir, fetch
from circuits.errors import DatasetError
from circuits.query_order import seeded_order

log = logging.getLogger(__name__)

NAME = "trec-rag24-crowd"
IR_DATASETS_ID = "axiomtests/trec-rag24-crowd"
RETRIEVAL_FILE = "data/crowd/study1_retrieval.jsonl.gz"
RESPONSES_FILE = "data/crowd/responses.jsonl.gz"
EXPECTED = {"queries": 301, "docs": 6011, "qrels": 3599}  # fixed by the pinned wheel's sha256
_FORMAT = 1  # bump when the cached corpus layout changes
_TSV_BREAKS = re.compile(r"[\t\n\r]")


@dataclass(frozen=True)
class Corpus:
    """Documents, queries, relevance labels and (optionally) each query's retrieved candidates."""

    name: str
    docs: dict[str, str]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    retrieved: dict[str, list[str]]
    provenance: dict[str, str]

    def __repr__(self) -> str:
        pairs = sum(len(v) for v in self.qrels.values())
        return (f"Corpus({self.name!r}: {len(self.docs)} docs, {len(self.queries)} queries, "
                f"{pairs} qrels)")


# --------------------------------------------------------------------------- the default corpus

def load_corpus() -> Corpus:
    """The default corpus, read from the ``ir-axioms`` wheel on first use and cached as gzipped JSON."""
    path = cache_dir() / "corpus" / f"{NAME}-v{_FORMAT}-{IR_AXIOMS.sha256[:12]}.json.gz"
    if not path.exists():
        corpus = _read_wheel(fetch(IR_AXIOMS))
        atomic_write(path, gzip.compress(json.dumps(_to_json(corpus)).encode(), mtime=0))
        log.info("cached %r at %s", corpus, path)
        return corpus
    try:
        return _from_json(json.loads(gzip.decompress(path.read_bytes())))
    except (OSError, EOFError, zlib.error, ValueError, KeyError, TypeError) as exc:
        raise DatasetError(f"cached corpus {path} is corrupt or truncated ({exc}); "
                           f"delete it and run again to rebuild it from {IR_AXIOMS}") from exc


def _read_jsonl_gz(archive: zipfile.ZipFile, member: str, wheel: Path) -> list[dict]:
    try:
        raw = gzip.decompress(archive.read(member))
        return [json.loads(line) for line in raw.splitlines() if line.strip()]
    except KeyError as exc:
        raise DatasetError(f"{wheel} has no member {member}; it is not the pinned {IR_AXIOMS}. "
                           f"Delete it and run again to download a fresh copy.") from exc
    except (OSError, EOFError, zlib.error, zipfile.BadZipFile, ValueError) as exc:
        raise DatasetError(f"{member} in {wheel} is corrupt or truncated ({exc}); "
                           f"delete {wheel} and run again to download a fresh copy.") from exc


def _read_wheel(wheel: Path) -> Corpus:
    try:
        archive = zipfile.ZipFile(wheel)
    except (OSError, zipfile.BadZipFile) as exc:
        raise DatasetError(f"{wheel} is not a readable zip ({exc}); delete it and run again") from exc
    with archive:
        rows = _read_jsonl_gz(archive, RETRIEVAL_FILE, wheel)
        answers = _read_jsonl_gz(archive, RESPONSES_FILE, wheel)
    docs: dict[str, str] = {}
    queries: dict[str, str] = {}
    retrieved: dict[str, list[str]] = {}
    try:
        for row in rows:
            qid = str(row["topic"])
            queries[qid] = row["query"]
            retrieved[qid] = list(row["references_ids"])
            docs.update(zip(row["references_ids"], row["references_texts"], strict=True))
        qrels: dict[str, dict[str, int]] = {}
        for answer in answers:
            if answer["kind"] != "human":
                continue
            for statement in answer["statements"]:
                for doc_id in statement.get("citations") or ():
                    qrels.setdefault(str(answer["topic"]), {})[doc_id] = 1
    except (KeyError, TypeError, ValueError) as exc:
        raise DatasetError(f"unexpected row layout in {wheel} ({exc!r}); it is not the pinned "
                           f"{IR_AXIOMS}: delete it and run again") from exc
    got = {"queries": len(queries), "docs": len(docs), "qrels": sum(len(v) for v in qrels.values())}
    if got != EXPECTED:
        raise DatasetError(f"{wheel} gave {got}, expected {EXPECTED}; delete it and run again")
    unknown = {d for labels in qrels.values() for d in labels} - docs.keys()
    if unknown:
        raise DatasetError(f"{RESPONSES_FILE} cites {len(unknown)} passages missing from {RETRIEVAL_FILE}")
    provenance = {"source": str(IR_AXIOMS), "sha256": IR_AXIOMS.sha256,
                  "files": f"{RETRIEVAL_FILE}, {RESPONSES_FILE}",
                  "labels": "passages cited by human-written answers = 1",
                  "license": "MS MARCO research-only terms: do not redistribute the text"}
    return Corpus(NAME, docs, queries, qrels, retrieved, provenance)


def _to_json(corpus: Corpus) -> dict:
    return {"name": corpus.name, "docs": corpus.docs, "queries": corpus.queries, "qrels": corpus.qrels,
            "retrieved": corpus.retrieved, "provenance": corpus.provenance}


def _from_json(data: dict) -> Corpus:
    return Corpus(data["name"], data["docs"], data["queries"], data["qrels"], data["retrieved"],
                  data["provenance"])


# --------------------------------------------------------------------------- helpers on any corpus

def split_queries(corpus: Corpus, holdout: float = 0.2, seed: int = 0) -> tuple[list[str], list[str]]:
    """Seeded split of the query ids into sorted ``(train, test)`` lists; ``round(holdout * n)`` are test."""
    if not 0.0 <= holdout <= 1.0:
        raise ValueError(f"holdout must lie in [0, 1], got {holdout}")
    qids = seeded_order(corpus.queries, random.Random(seed))
    n_test = round(holdout * len(qids))
    return sorted(qids[n_test:]), sorted(qids[:n_test])


# --------------------------------------------------------------------------- BEIR folders

def write_beir(corpus: Corpus, folder: str | os.PathLike) -> Path:
    """Write ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/test.tsv`` (BEIR's GenericDataLoader
    layout), plus ``retrieved.tsv`` and ``provenance.json``, which BEIR ignores and :func:`load_beir` reads."""
    root = Path(folder)
    (root / "qrels").mkdir(parents=True, exist_ok=True)
    _write_lines(root / "corpus.jsonl", (json.dumps({"_id": d, "title": "", "text": t}) + "\n"
                                         for d, t in corpus.docs.items()))
    _write_lines(root / "queries.jsonl", (json.dumps({"_id": q, "text": t}) + "\n"
                                          for q, t in corpus.queries.items()))
    _write_lines(root / "qrels" / "test.tsv", ["query-id\tcorpus-id\tscore\n"] + [
        f"{q}\t{d}\t{r}\n" for q, labels in corpus.qrels.items() for d, r in labels.items()])
    _write_lines(root / "retrieved.tsv", (f"{q}\t{d}\t{rank}\n" for q, ids in corpus.retrieved.items()
                                          for rank, d in enumerate(ids, 1)))
    (root / "provenance.json").write_text(json.dumps({"name": corpus.name, **corpus.provenance}))
    return root


def load_beir(folder: str | os.PathLike) -> Corpus:
    """A BEIR folder (split ``test``) read with ``beir``'s GenericDataLoader.

    As in BEIR, queries without qrels are dropped. A non-empty title is prepended to the text.
    """
    root = Path(folder)
    try:
        from beir.datasets.data_loader import GenericDataLoader
    except ImportError as exc:
        raise DatasetError("reading a BEIR folder needs the beir package: "
                           "pip install --no-deps beir") from exc
    try:
        docs, queries, qrels = GenericDataLoader(data_folder=str(root)).load(split="test")
    except (ValueError, KeyError, IndexError, OSError) as exc:
        raise DatasetError(f"{root} is not a readable BEIR folder ({exc}); it needs corpus.jsonl, "
                           f"queries.jsonl and qrels/test.tsv") from exc
    texts = {d: f"{v['title']} {v['text']}" if v.get("title") else v["text"] for d, v in docs.items()}
    info = json.loads((root / "provenance.json").read_text()) if (root / "provenance.json").exists() else {}
    name = info.pop("name", root.name)
    return Corpus(name, texts, queries, qrels, _read_retrieved(root / "retrieved.tsv"),
                  info or {"source": f"beir:{root}"})


def _read_retrieved(path: Path) -> dict[str, list[str]]:
    if not path.exists():
        return {}
    ranked: dict[str, list[tuple[int, str]]] = {}
    try:
        for line in path.read_text().splitlines():
            qid, doc_id, rank = line.split("\t")
            ranked.setdefault(qid, []).append((int(rank), doc_id))
    except ValueError as exc:
        raise DatasetError(f"{path} is corrupt ({exc}); expected query-id<TAB>doc-id<TAB>rank lines. "
                           f"Delete it (the retrieved lists are optional) or write the folder again") from exc
    return {q: [d for _, d in sorted(pairs)] for q, pairs in ranked.items()}


def _write_lines(path: Path, lines: Iterable[str]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.writelines(lines)


# --------------------------------------------------------------------------- ir_datasets

def _tsv_field(text: str) -> str:
    return _TSV_BREAKS.sub(" ", text)


def register_ir_datasets(name: str = IR_DATASETS_ID) -> str:
    """Register the default corpus with ``ir_datasets`` under ``name`` and return ``name``.

    Docs and queries go to TSV files (tabs and line breaks become spaces), qrels to a TREC qrels file,
    retrieved lists to a TREC run (score = 1 / rank), all in a content-addressed cache folder.
    """
    import ir_datasets
    from ir_datasets.formats import TrecQrels, TrecScoredDocs, TsvDocs, TsvQueries
    from ir_datasets.util import LocalDownload

    if name in ir_datasets.registry:
        return name
    corpus = load_corpus()
    folder = cache_dir() / "ir_datasets" / f"{NAME}-v{_FORMAT}-{IR_AXIOMS.sha256[:12]}"
    if not (folder / "done").exists():
        folder.mkdir(parents=True, exist_ok=True)
        _write_lines(folder / "docs.tsv", (f"{d}\t{_tsv_field(t)}\n" for d, t in corpus.docs.items()))
        _write_lines(folder / "queries.tsv", (f"{q}\t{_tsv_field(t)}\n" for q, t in corpus.queries.items()))
        _write_lines(folder / "qrels.txt", (f"{q} 0 {d} {r}\n" for q, labels in corpus.qrels.items()
                                            for d, r in labels.items()))
        _write_lines(folder / "run.txt", (f"{q} Q0 {d} {rank} {1 / rank:.6f} source\n"
                                          for q, ids in corpus.retrieved.items()
                                          for rank, d in enumerate(ids, 1)))
        (folder / "done").touch()
    dataset = ir_datasets.Dataset(
        TsvDocs(LocalDownload(folder / "docs.tsv")),
        TsvQueries(LocalDownload(folder / "queries.tsv")),
        TrecQrels(LocalDownload(folder / "qrels.txt"), {1: "cited by a human-written answer"}),
        TrecScoredDocs(LocalDownload(folder / "run.txt")),
    )
    ir_datasets.registry.register(name, dataset)
    return name


def load_ir_datasets(dataset_id: str) -> Corpus:
    """Any ``ir_datasets`` id as a :class:`Corpus` (everything held in memory); ``axiomtests/...`` ids
    register the local default corpus first. Retrieved lists come from scoreddocs when there are any."""
    import ir_datasets

    if dataset_id.startswith("axiomtests/"):
        register_ir_datasets(dataset_id)
    try:
        dataset = ir_datasets.load(dataset_id)
    except KeyError as exc:
        raise DatasetError(f"unknown ir_datasets id {dataset_id!r}; see https://ir-datasets.com for ids, "
                           f"or use {IR_DATASETS_ID!r} for the local corpus") from exc
    for part in ("docs", "queries", "qrels"):
        if not getattr(dataset, f"has_{part}")():
            raise DatasetError(f"{dataset_id} has no {part}; pick a dataset id with docs, queries and qrels")
    try:
        docs = {doc.doc_id: doc.default_text() for doc in dataset.docs_iter()}
        queries = {q.query_id: q.default_text() for q in dataset.queries_iter()}
        qrels: dict[str, dict[str, int]] = {}
        for qrel in dataset.qrels_iter():
            qrels.setdefault(qrel.query_id, {})[qrel.doc_id] = int(qrel.relevance)
        retrieved = _ranked(dataset.scoreddocs_iter()) if dataset.has_scoreddocs() else {}
    except (OSError, RuntimeError, ValueError) as exc:
        raise DatasetError(f"could not read {dataset_id} with ir_datasets ({exc}); for a download error "
                           f"check network access, for a local id delete {cache_dir() / 'ir_datasets'} "
                           f"and run again") from exc
    return Corpus(dataset_id, docs, queries, qrels, retrieved, {"source": f"ir_datasets:{dataset_id}"})


def _ranked(scored: Iterator) -> dict[str, list[str]]:
    by_query: dict[str, list[tuple[float, int, str]]] = {}
    for position, hit in enumerate(scored):
        by_query.setdefault(hit.query_id, []).append((-hit.score, position, hit.doc_id))
    return {q: [d for *_, d in sorted(hits)] for q, hits in by_query.items()}


def load_source(spec: str | None) -> Corpus:
    """``None`` -> the default corpus; an existing directory -> a BEIR folder; else an ir_datasets id."""
    if spec is None:
        return load_corpus()
    if Path(spec).is_dir():
        return load_beir(spec)
    return load_ir_datasets(spec)
