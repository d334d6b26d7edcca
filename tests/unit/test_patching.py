"""Patching engine: identities, a planted circuit, agreement with the one-forward-per-patch reference."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from circuits import ablation as A
from circuits import patching as P
from circuits.architectures import architecture_for
from circuits.errors import DatasetError, InputError
from circuits.model import HookedCrossEncoder, PairBatch
from circuits.tiny import tiny_config
from conftest import ARCHS

QUERIES = ["what is bm25", "how does attention work", "river bank", "what is bm25", "music history"]
TERMS = ["what", "attention", "bank", "what", "music"]  # one query term each, a single token of every tokenizer
DOCS = ["bm25 is a ranking function for search", "attention heads score the relevance of a passage",
        "money in the", "the score of a passage", "a city of music and science"]
TOL = 1e-5


def tfc1_pairs(model: HookedCrossEncoder, n: int = len(QUERIES)) -> P.AlignedPairs:
    """Append a query term to the perturbed document and the filler "a" to the baseline (TFC1 style)."""
    return P.align_pairs(model, QUERIES[:n], [d + " a" for d in DOCS[:n]],
                         [d + " " + t for d, t in zip(DOCS[:n], TERMS)], ["q1", "q2", "q3", "q1", "q4"][:n])


@pytest.fixture(scope="module")
def model(tiny_checkpoint) -> HookedCrossEncoder:
    return HookedCrossEncoder.from_pretrained(tiny_checkpoint("bert", n_layers=3))


@pytest.fixture(scope="module")
def pairs(model) -> P.AlignedPairs:
    return tfc1_pairs(model)


def all_heads(model: HookedCrossEncoder) -> list[P.Head]:
    return [(l, h) for l in range(model.cfg.n_layers) for h in range(model.cfg.n_heads)]


def patched_offset(result: P.PatchResult) -> np.ndarray:
    """``patched − baseline`` per pair and index."""
    return result.patched - result.baseline.reshape(-1, *[1] * len(result.shape))


# ------------------------------------------------------------------------------------------- inputs
def test_misaligned_pairs_are_refused(model):
    with pytest.raises(InputError, match="not aligned.*'q2': 8 vs 9 tokens.*Fix: pad"):
        P.align_pairs(model, ["bm25", "ranking"], ["a doc", "a doc"], ["a doc", "a doc bm25"], ["q1", "q2"])
    base = model.tokenize(["bm25"], ["a doc"])
    longer = model.tokenize(["bm25"], ["a doc bm25"])
    with pytest.raises(InputError, match="differ in shape"):
        P.AlignedPairs(base, longer, ["q"])
    with pytest.raises(InputError, match="2 query ids for 1 pairs"):
        P.AlignedPairs(base, base, ["q", "r"])
    with pytest.raises(InputError, match="would be truncated"):
        P.align_pairs(model, ["bm25"], ["a " * 80], ["bm25 " * 80])


def test_misaligned_masks_are_refused(model):
    base = model.tokenize(["bm25", "ranking"], ["a doc", "a doc bm25"])
    pert = model.tokenize(["bm25", "ranking"], ["a doc bm25", "a doc bm25"])
    with pytest.raises(InputError, match=r"pairs \[0\] are not aligned"):
        P.AlignedPairs(base, pert, ["q1", "q2"])


@pytest.mark.parametrize("kwargs, message", [
    (dict(sites=("nope",)), "unknown sites"),
    (dict(sites=("z", "resid_pre")), "index differently"),
    (dict(sites=("pattern_row",), path=True), "activation-patching sites"),
    (dict(receivers=[(1, 0)]), "pass path=True"),
    (dict(path=True, receivers=[(0, 1)]), "above layer 0"),
    (dict(path=True, receivers=[(1, 9)]), "not a head"),
    (dict(path=True, receivers=[(1, 0)], receiver_input="o"), "receiver_input"),
    (dict(engine="slow"), "engine"),
    (dict(batch_size=0), "batch_size"),
    (dict(head_sets=[[(5, 0)]]), "head 5.0 is not in this model"),
])
def test_bad_arguments_are_refused(model, pairs, kwargs, message):
    with pytest.raises(InputError, match=message):
        P.generic_patch(model, pairs, **kwargs)


# ------------------------------------------------------------------------------------------- identities
@pytest.mark.parametrize("engine", ["fast", "reference"])
@pytest.mark.parametrize("path", [False, True])
def test_patching_nothing_gives_the_baseline(model, pairs, engine, path):
    result = P.patch_head_sets(model, pairs, [[]], path=path, engine=engine, n_boot=10)
    assert result.coords == {"set": ["none"]}
    np.testing.assert_allclose(result.patched[:, 0], result.baseline, atol=TOL, rtol=0)


def test_patching_in_the_baseline_itself_changes_nothing(model, pairs):
    same = P.AlignedPairs(pairs.baseline, pairs.baseline, pairs.query_ids)  # perturbed := baseline
    for sweep in (P.patch_heads(model, same, n_boot=10), P.patch_block_every(model, same, n_boot=10),
                  P.path_patch(model, same, receivers=[(2, 1)], n_boot=10)):
        np.testing.assert_allclose(patched_offset(sweep), 0, atol=TOL)
        assert sweep.n_pairs == 0 and sweep.n_dropped == len(pairs) and np.isnan(sweep.effect).all()


@pytest.mark.parametrize("engine", ["fast", "reference"])
@pytest.mark.parametrize("path", [False, True])
def test_patching_every_head_reproduces_the_perturbed_run(model, pairs, engine, path):
    result = P.patch_head_sets(model, pairs, [all_heads(model)], path=path, engine=engine, n_boot=10)
    assert not np.allclose(result.baseline, result.perturbed, atol=1e-3), "the perturbation must matter"
    np.testing.assert_allclose(result.patched[:, 0], result.perturbed, atol=TOL, rtol=0)
    np.testing.assert_allclose(result.effect, [1.0], atol=1e-4)


@pytest.mark.parametrize("receivers", [(), ((2, 1), (1, 3))])
def test_path_patching_with_nothing_frozen_is_activation_patching(model, pairs, receivers):
    activation = P.patch_heads(model, pairs, n_boot=10)
    for engine in ("fast", "reference"):
        unfrozen = P.path_patch(model, pairs, freeze_heads=False, engine=engine, n_boot=10)
        np.testing.assert_allclose(unfrozen.patched, activation.patched, atol=TOL, rtol=0)
    frozen = P.path_patch(model, pairs, n_boot=10)
    assert not np.allclose(frozen.patched, activation.patched, atol=1e-4), "freezing must change something"
    if receivers:  # every sender into every head's q: the sender's total effect through those q inputs
        via_q = P.path_patch(model, pairs, receivers=receivers, freeze_heads=False, n_boot=10)
        ref = P.path_patch(model, pairs, receivers=receivers, freeze_heads=False, engine="reference", n_boot=10)
        np.testing.assert_allclose(via_q.patched, ref.patched, atol=TOL, rtol=0)


# ------------------------------------------------------------------------------------------- reference
KINDS = {
    "heads": dict(sites=("z",)),
    "heads_by_pos": dict(sites=("z_pos",)),
    "pattern_rows": dict(sites=("pattern_row",)),
    "block_every": dict(sites=P.BLOCK_SITES),
    "heads_stacked": dict(sites=("z",), variants_per_pass=5),
    "block_stacked": dict(sites=P.BLOCK_SITES, variants_per_pass=7),
    "path_to_logit": dict(sites=("z",), path=True),
    "path_to_logit_frozen_mlps": dict(sites=("z",), path=True, freeze_mlps=True),
    "path_to_q": dict(sites=("z",), path=True, receivers=[(2, 1), (1, 3)], receiver_input="q"),
    "path_to_k": dict(sites=("z",), path=True, receivers=[(2, 1)], receiver_input="k", variants_per_pass=3),
    "path_to_v_frozen_mlps": dict(sites=("z",), path=True, receivers=[(2, 0)], receiver_input="v",
                                  freeze_mlps=True),
    "path_resid_to_logit": dict(sites=P.BLOCK_SITES, path=True),
    "path_resid_to_heads": dict(sites=P.BLOCK_SITES, path=True, receivers=[(2, 2)], receiver_input="k"),
    "path_z_pos_to_heads": dict(sites=("z_pos",), path=True, receivers=[(1, 1)]),
    "head_sets": dict(head_sets=[[(0, 1)], [(0, 1), (2, 3)], [(1, 0), (1, 2), (2, 2)]]),
    "path_head_sets_to_k": dict(head_sets=[[(0, 1)], [(0, 2), (1, 3)]], path=True, receivers=[(2, 1)],
                                receiver_input="k"),
}


@pytest.mark.parametrize("kind", KINDS)
def test_fast_engine_matches_the_reference(model, pairs, kind):
    fast = P.generic_patch(model, pairs, n_boot=10, **KINDS[kind])
    reference = P.generic_patch(model, pairs, n_boot=10, engine="reference", **KINDS[kind])
    assert fast.shape == reference.shape and fast.axes == reference.axes
    assert np.abs(patched_offset(reference)).max() > 1e-3, "the patches must move the score"
    np.testing.assert_allclose(fast.patched, reference.patched, atol=TOL, rtol=0)
    np.testing.assert_array_equal(fast.baseline, reference.baseline)


@pytest.mark.parametrize("n_labels", [1, 2])
@pytest.mark.parametrize("arch, variant", [(a, "") for a in ARCHS] + [("deberta-v2", "v2"), ("modernbert", "mean")])
def test_every_architecture_matches_the_reference(tiny_checkpoint, arch, variant, n_labels):
    model = HookedCrossEncoder.from_pretrained(tiny_checkpoint(arch, n_labels, n_layers=3, variant=variant))
    pairs = tfc1_pairs(model, 4)
    for kwargs in (dict(), dict(path=True), dict(path=True, receivers=[(2, 1)], receiver_input="k")):
        fast = P.path_patch(model, pairs, n_boot=10, **kwargs) if kwargs else P.patch_heads(model, pairs, n_boot=10)
        reference = P.generic_patch(model, pairs, sites=("z",), engine="reference", n_boot=10, **kwargs)
        np.testing.assert_allclose(fast.patched, reference.patched, atol=TOL, rtol=0)


def test_streaming_does_not_change_results(model, pairs):
    whole = P.patch_block_every(model, pairs, batch_size=len(pairs), n_boot=10)
    streamed = P.patch_block_every(model, pairs, batch_size=2, n_boot=10)
    np.testing.assert_allclose(streamed.patched, whole.patched, atol=TOL, rtol=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("arch", ["bert", "deberta-v2", "modernbert"])
def test_cuda_matches_cpu(tiny_checkpoint, arch):
    model = HookedCrossEncoder.from_pretrained(tiny_checkpoint(arch, n_layers=3))
    pairs = tfc1_pairs(model)
    cpu = P.patch_heads(model, pairs, n_boot=10)
    gpu = P.patch_heads(model, pairs, n_boot=10, device="cuda")
    gpu_path = P.path_patch(model, pairs, receivers=[(2, 1)], n_boot=10, device="cuda")
    assert model.device.type == "cuda"
    cpu_path = P.path_patch(model.to("cpu"), pairs, receivers=[(2, 1)], n_boot=10)
    np.testing.assert_allclose(gpu.patched, cpu.patched, atol=1e-4, rtol=0)
    np.testing.assert_allclose(gpu_path.patched, cpu_path.patched, atol=1e-4, rtol=0)


@pytest.fixture(scope="module")
def model_on_fake_device(tiny_checkpoint) -> HookedCrossEncoder:
    """The ``model`` fixture's checkpoint on the CUDA-strict CPU stand-in device (``fake_device.py``)."""
    from fake_device import fake_device_or_skip

    return HookedCrossEncoder.from_pretrained(tiny_checkpoint("bert", n_layers=3), device=fake_device_or_skip())


ON_DEVICE = [(kind, "fast") for kind in KINDS] + [  # the reference engine's hooks, on its cheaper sweeps
    (kind, "reference") for kind in ("heads", "path_to_logit_frozen_mlps", "path_to_k", "path_head_sets_to_k")]


@pytest.mark.parametrize("kind, engine", ON_DEVICE)
def test_every_pass_runs_on_a_device_that_is_not_the_cpu(model, pairs, model_on_fake_device, kind, engine):
    """Every tensor a pass makes lives on the model's device (CUDA's rule), and the numbers match the CPU's."""
    on_device = P.generic_patch(model_on_fake_device, pairs, n_boot=10, engine=engine, **KINDS[kind])
    cpu = P.generic_patch(model, pairs, n_boot=10, engine=engine, **KINDS[kind])
    assert model_on_fake_device.device.type == "fakegpu"
    np.testing.assert_allclose(on_device.patched, cpu.patched, atol=TOL, rtol=0)


def test_ablation_runs_on_a_device_that_is_not_the_cpu(model, pairs, model_on_fake_device):
    heads = [(0, 1), (2, 3)]
    for options in (dict(mode="zero"), dict(reference=pairs.baseline), dict(reference=pairs.baseline,
                                                                                per_position=True)):
        on_device = A.ablate_heads(model_on_fake_device, pairs.perturbed, heads, batch_size=2, **options)
        assert on_device.device.type == "fakegpu"
        cpu = A.ablate_heads(model, pairs.perturbed, heads, batch_size=2, **options)
        torch.testing.assert_close(on_device.cpu(), cpu, atol=TOL, rtol=0)


# ------------------------------------------------------------------------------------------- planted circuit
PLANTED = ((0, 1), (1, 2), (2, 3))  # the only heads that write to the residual stream


def tiny_model(arch: str, **sizes: int) -> HookedCrossEncoder:
    """A tiny random ``arch`` built in memory (``"modernbert-mean"``: ModernBERT with mean pooling)."""
    from transformers import AutoModelForSequenceClassification

    name = arch.removesuffix("-mean")
    config = tiny_config(name, **sizes)
    if arch.endswith("-mean"):
        config.classifier_pooling = "mean"
    hf = AutoModelForSequenceClassification.from_config(config)
    with torch.no_grad():
        for p in hf.parameters():
            if p.dim() > 1:
                p.normal_(0, 0.3)
    return HookedCrossEncoder(model=hf, tokenizer=None, arch=architecture_for(name), name=arch)


@pytest.fixture(scope="module", params=["bert", "deberta-v2", "modernbert", "modernbert-mean"])
def planted(request) -> tuple[HookedCrossEncoder, P.AlignedPairs]:
    """3 layers × 4 heads; every head but ``PLANTED`` has its output-projection columns zeroed."""
    torch.manual_seed(1)
    model = tiny_model(request.param, n_layers=3, n_heads=4, d_model=32)
    with torch.no_grad():
        d = 32 // 4
        for layer in range(3):
            for head in range(4):
                if (layer, head) not in PLANTED:
                    model.block_part(layer, "o").weight[:, head * d:(head + 1) * d] = 0
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(5, model.model.config.vocab_size, (6, 12), generator=gen)
    ids[:, 0], ids[:, 4], ids[:, -1] = 2, 3, 3  # [CLS] q q q [SEP] d … d [SEP]
    perturbed = ids.clone()
    perturbed[:, -2] = ids[:, 1]  # the document's last token becomes a query token
    types = (torch.arange(12) > 4).long().expand(6, 12) if model.arch.uses_token_type_ids else None
    batch = lambda x: PairBatch(x, torch.ones_like(x), None if types is None else types.clone())  # noqa: E731
    return model, P.AlignedPairs(batch(ids), batch(perturbed), [f"q{i % 3}" for i in range(6)])


def test_planted_heads_alone_carry_the_signal_to_the_logit(planted):
    model, pairs = planted
    for freeze_mlps in (False, True):
        result = P.path_patch(model, pairs, freeze_mlps=freeze_mlps, n_boot=10, delta=0)
        moved = np.abs(patched_offset(result)).max(axis=0)  # [layer, head]
        for layer, head in all_heads(model):
            if (layer, head) in PLANTED:
                assert moved[layer, head] > 1e-3, (layer, head)
            else:
                assert moved[layer, head] == 0.0, (layer, head)  # exactly: it writes nothing
    activation = np.abs(patched_offset(P.patch_heads(model, pairs, n_boot=10, delta=0))).max(axis=0)
    assert {(l, h) for l, h in all_heads(model) if activation[l, h] > 1e-6} == set(PLANTED)


@pytest.mark.parametrize("receiver_input", ["q", "k", "v"])
def test_path_patching_finds_the_planted_route_into_a_receiver(planted, receiver_input):
    model, pairs = planted
    for receiver, senders in (((1, 2), {(0, 1)}), ((2, 3), {(0, 1), (1, 2)})):
        result = P.path_patch(model, pairs, receivers=[receiver], receiver_input=receiver_input, n_boot=10,
                              delta=0)
        moved = np.abs(patched_offset(result)).max(axis=0)
        assert result.coords["layer"] == list(range(receiver[0]))
        found = {(l, h) for l in result.coords["layer"] for h in result.coords["head"] if moved[l, h] > 0}
        assert found == senders
        assert all(moved[l, h] > 1e-5 for l, h in senders)


def test_ablating_a_head_that_writes_nothing_changes_nothing(planted):
    model, pairs = planted
    base = model(pairs.baseline)
    silent = [(l, h) for l, h in all_heads(model) if (l, h) not in PLANTED]
    torch.testing.assert_close(A.ablate_heads(model, pairs.baseline, silent, mode="zero"), base, atol=TOL, rtol=0)
    changed = A.ablate_heads(model, pairs.baseline, [PLANTED[0]], mode="zero")
    assert (changed - base).abs().max() > 1e-3


# ------------------------------------------------------------------------------------------- ablation
def test_mean_ablation_by_its_own_input_changes_nothing(model, pairs):
    one = pairs.baseline.select([0])
    heads = [(0, 1), (2, 3)]
    base = model(one)
    for per_position in (True, False):
        means = A.head_means(model, one, heads, per_position=per_position)
        assert means[(0, 1)].shape == ((one.input_ids.shape[1], 8) if per_position else (8,))
    own = A.ablate_heads(model, one, heads, mode="mean", reference=one, per_position=True)
    torch.testing.assert_close(own, base, atol=TOL, rtol=0)
    pooled = A.ablate_heads(model, one, heads, mode="mean", reference=one, per_position=False)
    assert (pooled - base).abs().max() > 1e-4, "one mean over positions differs from the per-position values"


def test_mean_over_positions_is_the_masked_mean_written_everywhere(model, pairs):
    means = A.head_means(model, pairs.baseline, [(1, 2)])
    _, cache = model.run_with_cache(pairs.baseline, ["blocks.1.attn.hook_z"])
    weights = pairs.baseline.attention_mask[:, :, None].float()
    expected = (cache["z", 1][:, :, 2] * weights).sum((0, 1)) / weights.sum()
    torch.testing.assert_close(means[(1, 2)], expected)

    def write_mean(z, hook):
        z = z.clone()
        z[:, :, 2] = expected
        return z

    by_hand = model.run_with_hooks(pairs.perturbed, [("blocks.1.attn.hook_z", write_mean)])
    ablated = A.ablate_heads(model, pairs.perturbed, [(1, 2)], reference=pairs.baseline, batch_size=2)
    torch.testing.assert_close(ablated, by_hand, atol=TOL, rtol=0)
    shared = A.head_means(model, pairs.baseline, [(0, 1), (1, 2)], batch_size=2)  # once for several head sets
    assert torch.equal(A.ablate_heads(model, pairs.perturbed, [(1, 2)], means=shared, batch_size=2), ablated)


def test_ablation_errors(model, pairs):
    with pytest.raises(InputError, match="mode"):
        A.ablate_heads(model, pairs.baseline, [(0, 0)], mode="median")
    with pytest.raises(InputError, match="reference set"):
        A.ablate_heads(model, pairs.baseline, [(0, 0)])
    with pytest.raises(InputError, match=r"means= lacks heads \[\(0, 0\)\]"):
        A.ablate_heads(model, pairs.baseline, [(0, 0)], means=A.head_means(model, pairs.baseline, [(1, 2)]))
    short = model.tokenize(["bm25"], ["a"])
    with pytest.raises(InputError, match="no reference input with a real token at position"):
        A.ablate_heads(model, pairs.baseline, [(0, 0)], reference=short, per_position=True)


# ------------------------------------------------------------------------------------------- results
def test_result_serialises_and_drops_flat_pairs(model, pairs):
    flat = P.AlignedPairs(pairs.baseline, pairs.baseline.select(list(range(len(pairs)))), pairs.query_ids)
    flat.perturbed.input_ids[:3] = pairs.perturbed.input_ids[:3]  # pairs 3, 4: perturbed == baseline
    result = P.patch_heads(model, flat, n_boot=50, seed=3)
    assert (result.n_pairs, result.n_dropped) == (3, 2)
    assert result.effect.shape == result.ci_low.shape == (3, 4)
    assert np.all(result.ci_low <= result.effect + 1e-9) and np.all(result.effect <= result.ci_high + 1e-9)
    data = json.loads(json.dumps(result.to_dict(per_pair=True)))
    assert data["schema"] == P.SCHEMA and data["axes"] == ["layer", "head"] and data["shape"] == [3, 4]
    assert data["n_pairs"] == 3 and data["n_dropped"] == 2 and data["n_queries"] == 3
    assert len(data["pairs"]["patched"]) == 5 and data["pairs"]["kept"] == [True] * 3 + [False] * 2
    assert result.per_pair().shape == (3, 3, 4)
    label, value = result.top(1)[0]
    layer, head = map(int, label.split("."))
    assert value == result.effect[layer, head] == np.nanmax(np.abs(result.effect)) * np.sign(value)
    again = P.patch_heads(model, flat, n_boot=50, seed=3)
    np.testing.assert_array_equal(again.ci_low, result.ci_low)


def test_result_with_no_pair_left_serialises_nan_as_null(model, pairs):
    same = P.AlignedPairs(pairs.baseline, pairs.baseline, pairs.query_ids)
    data = json.loads(json.dumps(P.patch_heads(model, same, n_boot=10).to_dict()))
    assert data["effect"][0][0] is None and data["n_pairs"] == 0


def test_heatmaps_are_written(model, pairs, tmp_path):
    from circuits.plots import plot_effects

    results = [P.patch_heads(model, pairs, n_boot=10), P.patch_block_every(model, pairs, n_boot=10),
               P.patch_head_sets(model, pairs, [[(0, 1)], [(1, 1), (2, 2)]], n_boot=10)]
    for i, result in enumerate(results):
        out = plot_effects(result, tmp_path / f"effects{i}.png")
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 2000


# ------------------------------------------------------------------------------------------- CLI
def patch_args(*argv: str):
    import argparse

    from axiomtests.patch_cli import add_patch_parser

    parser = argparse.ArgumentParser(prog="axiomtests")
    add_patch_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["patch", *argv])


def write_pairs(path, model) -> None:
    pairs = tfc1_pairs(model)
    with path.open("w") as f:
        for i, (q, d, t) in enumerate(zip(QUERIES, DOCS, TERMS)):
            f.write(json.dumps({"query_id": pairs.query_ids[i], "query": q, "baseline": d + " a",
                                "perturbed": f"{d} {t}"}) + "\n")


@pytest.mark.parametrize("argv, shape", [
    (("--kind", "path-to-heads", "--receivers", "2.1,1.0", "--receiver-input", "k"), [2, 4]),
    (("--kind", "activation-heads", "--pairs", "3"), [3, 4]),
])
def test_patch_command_writes_effects_and_a_heatmap(tiny_checkpoint, model, tmp_path, capsys, argv, shape):
    write_pairs(tmp_path / "pairs.jsonl", model)
    out = tmp_path / "run" / "effects.json"
    args = patch_args("--checkpoint", str(tiny_checkpoint("bert", n_layers=3)), "--pairs-file",
                      str(tmp_path / "pairs.jsonl"), "--out", str(out), "--n-boot", "20", "--delta", "0", *argv)
    assert args.func(args) == 0
    data = json.loads(out.read_text())
    assert data["shape"] == shape and data["n_pairs"] + data["n_dropped"] == len(data["pairs"]["baseline"])
    assert data["checkpoint"]["layers"] == 3 and len(data["checkpoint"]["weights_sha256"]) == 64
    assert out.with_suffix(".png").stat().st_size > 2000
    assert "pairs kept" in capsys.readouterr().out


def test_patch_command_refuses_bad_arguments(tiny_checkpoint, model, tmp_path):
    from axiomtests.patch_cli import load_pair_records

    write_pairs(tmp_path / "pairs.jsonl", model)
    base = ("--checkpoint", str(tiny_checkpoint("bert", n_layers=3)), "--pairs-file", str(tmp_path / "pairs.jsonl"))
    args = patch_args(*base, "--kind", "path-to-heads")
    with pytest.raises(InputError, match="needs --receivers"):
        args.func(args)
    args = patch_args(*base, "--kind", "activation-heads", "--receivers", "1.1")
    with pytest.raises(InputError, match="--receivers belongs to"):
        args.func(args)
    with pytest.raises(SystemExit):
        patch_args(*base, "--receivers", "10-1")
    (tmp_path / "bad.jsonl").write_text('{"query_id": "1", "query": "q", "baseline": "b"}\n')
    with pytest.raises(DatasetError, match="bad.jsonl:1: not a pair record"):
        load_pair_records(tmp_path / "bad.jsonl")
