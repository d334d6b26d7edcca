"""Per-item rows beside the summary (circuits.items): built, bootstrapped, written, read back and compared."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from axiomtests.claims import CLAIMS
from axiomtests.gate import compare, item_changes
from circuits.errors import DatasetError, InputError
from circuits.items import ITEMS_FILE, Items, changed_quantities, labelled, paired_difference, read_items
from circuits.report import Report, load_report
from circuits.stats import group_bootstrap


def pair_items(shift: float = 0.0, seed: int = 0, n_queries: int = 30) -> Items:
    rng = np.random.default_rng(seed)
    gain = rng.normal(1.0, 1.0, 3 * n_queries) + shift
    return Items.of([f"p{n}" for n in range(3 * n_queries)], [f"q{n // 3}" for n in range(3 * n_queries)],
                    gain=gain, ok=gain > 0, **labelled("score", np.stack([gain, 2 * gain], 1), ["k=0", "k=1"]))


def test_items_refuse_duplicate_ids_and_misshapen_quantities():
    with pytest.raises(InputError, match="unique"):
        Items.of(["a", "a"], gain=[1.0, 2.0])
    with pytest.raises(InputError, match="one value per item"):
        Items.of(["a", "b"], gain=[1.0, 2.0, 3.0])
    with pytest.raises(InputError, match="one group per item"):
        Items.of(["a", "b"], ["q"], gain=[1.0, 2.0])


def test_a_matrix_becomes_one_quantity_per_column_and_rows_are_item_major():
    items = Items.of(["a", "b"], steps=np.array([[1.0, 2.0], [3.0, 4.0]]))
    assert list(items.values) == ["steps[0]", "steps[1]"]
    assert list(items.rows()) == [("a", "a", "steps[0]", 1.0), ("a", "a", "steps[1]", 2.0),
                                  ("b", "b", "steps[0]", 3.0), ("b", "b", "steps[1]", 4.0)]


def test_the_bootstrap_of_items_is_the_bootstrap_of_their_groups():
    """Items change nothing about a claim's interval: grouped items resample their groups exactly as
    ``group_bootstrap`` over those groups, and ungrouped items exactly as over their indices (the suite's former
    ``np.arange`` units), draw for draw."""
    items = pair_items()
    gain = items.values["gain"]
    assert items.bootstrap(lambda i: float(gain[i].mean()), unit="query", seed=3) == group_bootstrap(
        lambda i: float(gain[i].mean()), [f"q{n // 3}" for n in range(len(gain))], unit="query", seed=3)
    alone = Items.of([f"t{n}" for n in range(len(gain))], gain=gain)
    assert alone.n_units == len(gain)
    assert alone.bootstrap(lambda i: float(gain[i].mean()), unit="token", seed=3) == group_bootstrap(
        lambda i: float(gain[i].mean()), np.arange(len(gain)), unit="token", seed=3)


def test_a_claim_refuses_items_other_than_those_its_interval_resampled():
    items = pair_items()
    gain = items.values["gain"]
    value = items.bootstrap(lambda i: float(gain[i].mean()), unit="query", seed=0)
    claim = CLAIMS["axiom.tfc1"]
    assert claim.result(value, items=items).items is items
    other = Items.of(items.ids, gain=gain)  # every pair its own unit: 90 units, not the 30 queries resampled
    with pytest.raises(ValueError, match="resampled 30 query units but the items hold 90 groups"):
        claim.result(value, items=other)


def report_with(items: Items | None) -> Report:
    result = CLAIMS["axiom.tfc1"].result(0.7, items=items)
    return Report(checkpoint={"name": "x"}, environment={}, claims=[result])


def test_the_report_writes_items_beside_it_reads_them_back_and_is_byte_identical(tmp_path):
    report = report_with(pair_items())
    path = report.write(tmp_path / "a")
    again = report_with(pair_items()).write(tmp_path / "b")
    assert (path.parent / ITEMS_FILE).read_bytes() == (again.parent / ITEMS_FILE).read_bytes()
    assert path.read_bytes() == again.read_bytes()
    listed = report.to_dict()["items"]
    assert listed["file"] == ITEMS_FILE and listed["claims"]["axiom.tfc1"] == {"items": 90, "groups": 30,
                                                                                 "quantities": 4}
    text = gzip.open(path.parent / ITEMS_FILE, "rt").read().splitlines()
    assert text[0] == "claim,item,group,quantity,value" and len(text) == 1 + 90 * 4
    loaded = load_report(path)
    items = loaded.claims[0].items
    assert items.ids == report.claims[0].items.ids and items.groups == report.claims[0].items.groups
    assert np.allclose(items.values["score[k=1]"], report.claims[0].items.values["score[k=1]"], rtol=1e-5)
    assert loaded.to_json() == report.to_json()
    assert "## Per-item values" in report.to_markdown()


def test_a_report_without_items_removes_an_earlier_runs_items_file(tmp_path):
    report_with(pair_items()).write(tmp_path)
    report_with(None).write(tmp_path)
    assert not (tmp_path / ITEMS_FILE).exists()
    assert "items" not in load_report(tmp_path / "report.json").to_dict()


def test_a_corrupt_items_file_is_refused_with_a_fix(tmp_path):
    (tmp_path / ITEMS_FILE).write_bytes(b"not gzip")
    with pytest.raises(DatasetError, match="re-run `axiomtests run`"):
        read_items(tmp_path / ITEMS_FILE)


def test_paired_differences_find_a_shift_and_not_the_same_run():
    before, after = pair_items(), pair_items(shift=0.5)
    change = paired_difference(before, after, "gain")
    assert change["items"] == 90 and change["groups"] == 30
    assert change["difference"] == pytest.approx(0.5) and change["ci"][0] == pytest.approx(0.5)
    assert {c["quantity"] for c in changed_quantities(before, after)} == {"gain", "ok", "score[k=0]", "score[k=1]"}
    assert changed_quantities(before, pair_items()) == []
    disjoint = Items.of([f"x{n}" for n in range(4)], gain=np.ones(4))
    assert paired_difference(before, disjoint, "gain") is None


def test_a_retrain_differs_item_by_item_only_where_the_model_did():
    """Noise of a retrain (independent draws per item) crosses 0 for few quantities; a real shift of one
    quantity is listed first by compare."""
    before = pair_items(seed=0)
    noisy = Items.of(before.ids, before.groups, **{q: v + np.random.default_rng(9).normal(0, 0.3, len(v))
                                                   for q, v in before.values.items()})
    assert len(changed_quantities(before, noisy)) <= 1
    shifted = Items.of(before.ids, before.groups, **{**noisy.values, "gain": noisy.values["gain"] + 1.0})
    text = item_changes(report_with(before), report_with(shifted), "base", "new")
    assert "new against base" in text
    assert "gain: " in text.split("axiom.tfc1")[1].splitlines()[0]  # the clearest change, on the claim's own row
    table, _ = compare([report_with(before), report_with(before)], ["a", "b"])
    row = next(line for line in table.splitlines() if line.startswith("| axiom.tfc1") and "of 4" in line)
    assert [cell.strip() for cell in row.strip("|").split("|")] == ["axiom.tfc1", "90", "0 of 4", "none"]
