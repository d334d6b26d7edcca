"""Building, hashing, caching and loading the diagnostic datasets (diagnostics, dataset_files, dataset_cache)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from axiomtests import dataset_cache as C
from axiomtests import dataset_files as F
from axiomtests import diagnostics as D
from axiomtests import perturb as P
from axiomtests.corpus import write_beir
from axiomtests.sources import sha256_file
from circuits.errors import DatasetError
from helpers_diagnostics import tiny_corpus, tokenizer

SMALL = D.BuildConfig(tfc1_pairs_per_stratum=2, tfc2_queries=2, lnc1_queries=2, levels=3)
COMMITTED = Path(__file__).resolve().parents[2] / "datasets" / "diagnostics-seed0.manifest.json"


@pytest.fixture(scope="module")
def beir_folder(tmp_path_factory) -> Path:
    return write_beir(tiny_corpus(), tmp_path_factory.mktemp("beir"))


@pytest.fixture(scope="module")
def built(tmp_path_factory, beir_folder) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("built")
    return out, D.build_datasets(out, source=str(beir_folder), seed=3, config=SMALL)


def test_build_from_a_beir_folder_writes_every_axiom_with_its_manifest(built, beir_folder):
    out, manifest = built
    assert json.loads((out / F.MANIFEST).read_text()) == manifest
    assert manifest["counts"]["TFC1"] == {"0->1": 2, "k->k+1": 2}
    assert manifest["counts"]["STMC1"] == {"tf=0": 2, "tf>=1": 2}
    assert manifest["counts"]["TFC2"] == {f"{v}:{k}->{k + 1}": 1 for v in P.TFC2_VARIANTS for k in range(3)}
    assert manifest["counts"]["LNC1"] == {"0->1": 2, "1->2": 2, "2->3": 2}
    assert manifest["counts"]["FILLER"] == {"filler": 4 + 4 + 6}
    # only q1 has a passage with 3 occurrences of a noun query term within 150 words
    assert manifest["skipped"] == {"TFC2": {"query: no mainly-noun term with a passage of enough occurrences": 2}}
    assert manifest["queries"] == {"TFC1": 2, "STMC1": 2, "TFC2": 1, "LNC1": 2, "FILLER": 2}
    assert manifest["source"]["spec"] == str(beir_folder) and manifest["source"]["name"] == "tiny"
    assert manifest["seed"] == 3 and manifest["generator"]["version"] == P.GENERATOR_VERSION
    assert manifest["filler"]["text"] == " a"
    assert manifest["reference_embedding"]["tensor"] == "embeddings.word_embeddings.weight"
    for axiom, name in F.FILES.items():
        entry = manifest["files"][name]
        assert sha256_file(out / name) == entry["sha256"]
        assert entry["records"] == sum(manifest["counts"][axiom].values())


def test_two_builds_are_byte_identical(built, beir_folder, tmp_path):
    out, _ = built
    D.build_datasets(tmp_path, source=str(beir_folder), seed=3, config=SMALL)
    for name in [F.MANIFEST, *F.FILES.values()]:
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes(), name


def test_loaded_pairs_are_validated_and_typed(built):
    out, _ = built
    datasets = F.load_datasets(out, tokenizer=tokenizer())
    tfc1, stmc1 = datasets["TFC1"], datasets["STMC1"]
    assert [(p.query_id, p.doc_id) for p in tfc1] == [(p.query_id, p.doc_id) for p in stmc1]
    assert all(isinstance(p.filler, P.Filler) for pairs in datasets.values() for p in pairs)
    controls = {p.details["controls"] for p in datasets["FILLER"]}
    assert controls == {p.id for axiom in ("TFC1", "STMC1", "LNC1") for p in datasets[axiom]}


def _copy(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for f in src.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    return dst


def test_corrupt_file_is_refused(built, tmp_path):
    folder = _copy(built[0], tmp_path / "c")
    path = folder / F.FILES["TFC1"]
    path.write_text(path.read_text().replace(" the ", " teh ", 1))
    with pytest.raises(DatasetError, match="does not match its manifest sha256"):
        F.load_pairs(folder, "TFC1")
    F.load_pairs(folder, "LNC1")  # the other files are still fine


def test_stale_generator_version_is_refused(built, tmp_path):
    folder = _copy(built[0], tmp_path / "s")
    manifest = json.loads((folder / F.MANIFEST).read_text())
    manifest["generator"]["version"] = "0"
    (folder / F.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(DatasetError, match="stale"):
        F.load_pairs(folder, "TFC2")


def test_record_count_and_other_tokenizer_are_refused(built, tmp_path):
    from transformers import BertTokenizerFast

    folder = _copy(built[0], tmp_path / "r")
    manifest = json.loads((folder / F.MANIFEST).read_text())
    manifest["files"][F.FILES["LNC1"]]["records"] += 1
    (folder / F.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(DatasetError, match="records"):
        F.load_pairs(folder, "LNC1")
    (tmp_path / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "trauma"]))
    other = BertTokenizerFast(vocab_file=str(tmp_path / "vocab.txt"))
    with pytest.raises(DatasetError, match="another tokenizer"):
        F.load_pairs(folder, "TFC1", tokenizer=other)


def test_missing_folder_and_unknown_axiom(tmp_path, built):
    with pytest.raises(DatasetError, match="build the datasets first"):
        F.load_manifest(tmp_path)
    with pytest.raises(DatasetError, match="unknown axiom"):
        F.load_pairs(built[0], "TFC3")


@pytest.mark.parametrize("kwargs", [{"levels": 0}, {"tfc2_queries": -1}, {"min_words": 50, "max_words": 40}])
def test_bad_build_config(kwargs):
    with pytest.raises(ValueError, match="BuildConfig"):
        D.BuildConfig(**kwargs)


def test_default_build_on_the_real_corpus_matches_the_committed_manifest(tmp_path):
    """The default datasets rebuild byte-identically (same hashes as the committed manifest) within the budget."""
    start = time.perf_counter()
    manifest = D.build_datasets(tmp_path)
    elapsed = time.perf_counter() - start
    committed = json.loads(COMMITTED.read_text())
    for key in ("generator", "seed", "config", "files", "counts", "queries", "skipped", "filler", "tokenizer"):
        assert manifest[key] == committed[key], key
    assert manifest["source"]["sha256"] == committed["source"]["sha256"]
    assert manifest["reference_embedding"]["sha256"] == committed["reference_embedding"]["sha256"]
    assert manifest["counts"]["TFC1"] == {"0->1": 64, "k->k+1": 64}
    assert elapsed < 120


def test_ensure_datasets_builds_once_then_reuses(monkeypatch, tmp_path, beir_folder):
    monkeypatch.setattr(C, "cache_dir", lambda: tmp_path)
    folder = C.ensure_datasets(source=str(beir_folder), seed=3, config=SMALL)
    assert folder.parent == tmp_path / "datasets" and F.load_manifest(folder)["seed"] == 3
    stamp = (folder / F.MANIFEST).stat().st_mtime_ns
    assert C.ensure_datasets(source=str(beir_folder), seed=3, config=SMALL) == folder
    assert (folder / F.MANIFEST).stat().st_mtime_ns == stamp
    assert C.ensure_datasets(source=str(beir_folder), seed=4, config=SMALL) != folder
    other_sizes = D.BuildConfig(tfc1_pairs_per_stratum=3, tfc2_queries=2, lnc1_queries=2, levels=3)
    assert C.default_dataset_dir(source=str(beir_folder), seed=3, config=other_sizes) != folder


def test_cache_key_follows_tokenizer_content_not_its_path(tmp_path):
    from transformers import AutoTokenizer

    from circuits.tiny import save_tiny_tokenizer

    for name in ("a", "b"):
        save_tiny_tokenizer(tmp_path / name)
    first, second, changed = (AutoTokenizer.from_pretrained(tmp_path / name) for name in ("a", "b", "a"))
    changed.add_tokens(["zebra"])
    assert C.default_dataset_dir(tokenizer=first) == C.default_dataset_dir(tokenizer=second)
    assert C.default_dataset_dir(tokenizer=first) != C.default_dataset_dir(tokenizer=changed)
    assert C.default_dataset_dir(tokenizer=first) != C.default_dataset_dir()
    assert C.default_dataset_dir(config=D.BuildConfig()) == C.default_dataset_dir()


def test_a_given_tokenizer_is_recorded_and_a_slow_one_refused(beir_folder, tmp_path):
    manifest = D.build_datasets(tmp_path / "given", source=str(beir_folder), seed=3, tokenizer=tokenizer(),
                                config=SMALL)
    assert manifest["tokenizer"] == {"dir_name": F.SAVED_AS, **F.tokenizer_fingerprint(tokenizer())}
    slow = SimpleNamespace(is_fast=False, name_or_path="a Python tokenizer")  # transformers 5 has few slow ones
    with pytest.raises(DatasetError, match="not a fast"):
        D.build_datasets(tmp_path / "slow", source=str(beir_folder), tokenizer=slow)


def test_sizes_scale_with_pairs():
    assert D.BuildConfig.for_pairs(64) == D.BuildConfig()
    big = D.BuildConfig.for_pairs(256)
    assert (big.tfc1_pairs_per_stratum, big.tfc1_docs_per_stratum, big.tfc2_queries, big.lnc1_queries) == (
        256, 4, 200, 200)
    assert D.BuildConfig.for_pairs(8).tfc2_queries == 6
    with pytest.raises(ValueError, match="pairs must be at least 1"):
        D.BuildConfig.for_pairs(0)


def test_build_does_not_depend_on_the_hash_seed(built, beir_folder, tmp_path):
    """Set iteration order changes with PYTHONHASHSEED; the files must not."""
    code = ("import sys; from axiomtests import diagnostics as D; "
            "D.build_datasets(sys.argv[1], source=sys.argv[2], seed=3, config=D.BuildConfig("
            "tfc1_pairs_per_stratum=2, tfc2_queries=2, lnc1_queries=2, levels=3))")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-c", code, str(tmp_path), str(beir_folder)], check=True, env=env,
                   cwd=Path(__file__).resolve().parents[2], capture_output=True)
    for name in [F.MANIFEST, *F.FILES.values()]:
        assert (tmp_path / name).read_bytes() == (built[0] / name).read_bytes(), name
