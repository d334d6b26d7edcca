"""The items behind a claim's value: one row per (item, quantity), kept beside the summary.

A claim's value is a statistic over items (pairs, queries, heads, vocabulary tokens, query-length groups), and its
interval resamples their groups. :class:`Items` holds exactly those inputs: each item's id, the group the bootstrap
resamples it with, and its measured quantities. The interval is computed through :meth:`Items.bootstrap`, so the
groups in the rows are the groups that were resampled. Reports write them as ``items.csv.gz``. That file is a
gzipped CSV with the columns ``claim, item, group, quantity, value``; pandas reads it as it is. Runs on the same
datasets share item ids, so two checkpoints can be compared item by item (:func:`paired_difference`).
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from circuits.errors import DatasetError, InputError
from circuits.stats import Interval, bootstrap_ratio_ci, group_bootstrap

ITEMS_FILE = "items.csv.gz"
HEADER = ("claim", "item", "group", "quantity", "value")


@dataclass(frozen=True)
class Items:
    """Per-item values of one claim: ``ids[n]``, ``groups[n]`` (the resampling unit of each item; None: each item is
    its own unit) and ``values``, quantity name → ``[n]`` floats.

    >>> items = Items.of(["p1", "p2", "p3"], ["q1", "q1", "q2"], gain=[0.5, -0.1, 0.2])
    >>> items.n_units, list(items.rows())[1]
    (2, ('p2', 'q1', 'gain', -0.1))
    """

    ids: tuple[str, ...]
    groups: tuple[str, ...] | None
    values: Mapping[str, np.ndarray]

    @classmethod
    def of(cls, ids: Sequence[Any], groups: Sequence[Any] | None = None, **values: Any) -> Items:
        """Items from ids, groups and quantities: a 1-d array per quantity, or a 2-d ``[n, k]`` one, whose columns
        become the quantities ``name[0]`` … ``name[k−1]`` (use :func:`labelled` to name them)."""
        ids = tuple(str(i) for i in ids)
        if len(set(ids)) != len(ids):
            raise InputError("item ids must be unique within a claim: two items share an id")
        if groups is not None and len(groups) != len(ids):
            raise InputError(f"{len(groups)} groups for {len(ids)} items: give one group per item")
        columns: dict[str, np.ndarray] = {}
        for name, value in values.items():
            array = np.asarray(value, dtype=np.float64)
            if array.ndim == 2:
                columns.update(labelled(name, array, [str(j) for j in range(array.shape[1])]))
            else:
                columns[name] = array
        for name, array in columns.items():
            if array.shape != (len(ids),):
                raise InputError(f"quantity {name!r} has shape {array.shape}; one value per item ({len(ids)}) "
                                 "is needed")
        return cls(ids, None if groups is None else tuple(str(g) for g in groups), columns)

    @property
    def units(self) -> Sequence[Any]:
        """The labels the bootstrap resamples: the groups, else one per item (its index)."""
        return self.groups if self.groups is not None else range(len(self.ids))

    @property
    def group_labels(self) -> tuple[str, ...]:
        """Each item's group as the rows name it: its group, else its own id."""
        return self.groups if self.groups is not None else self.ids

    @property
    def n_units(self) -> int:
        return len(set(self.groups)) if self.groups is not None else len(self.ids)

    def bootstrap(self, statistic: Callable[[np.ndarray], float], *, unit: str, seed: int,
                  strata: Sequence[Any] | None = None) -> Interval:
        """:func:`circuits.stats.group_bootstrap` of ``statistic`` (index array into the items → float) over these
        items' groups."""
        return group_bootstrap(statistic, self.units, unit=unit, strata=strata, seed=seed)

    def rows(self) -> Iterator[tuple[str, str, str, float]]:
        """``(item, group, quantity, value)``, item by item; an item without a group is its own."""
        for n, (item, group) in enumerate(zip(self.ids, self.group_labels)):
            for name, column in self.values.items():
                yield item, group, name, float(column[n])

    def __len__(self) -> int:
        return len(self.ids)


def labelled(name: str, matrix: np.ndarray, labels: Sequence[str]) -> dict[str, np.ndarray]:
    """The columns of ``matrix`` ``[n, k]`` as quantities ``name[label]``, e.g. one per head or per level."""
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[1] != len(labels):
        raise InputError(f"{name!r}: a [items, {len(labels)}] matrix is needed, got shape {matrix.shape}")
    return {f"{name}[{label}]": matrix[:, j] for j, label in enumerate(labels)}


def write_items(items: Mapping[str, Items], path: str | Path) -> int:
    """Write every claim's rows, claims sorted, as a gzipped CSV (values to 6 significant digits, no timestamp in
    the gzip header, so the same items give the same bytes). Returns the number of rows."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(HEADER)
    count = 0
    for claim in sorted(items):
        for item, group, quantity, value in items[claim].rows():
            writer.writerow((claim, item, group, quantity, f"{value:.6g}"))
            count += 1
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as out:
        out.write(text.getvalue().encode())
    return count


def read_items(path: str | Path) -> dict[str, Items]:
    """The items of every claim in a file written by :func:`write_items`."""
    try:
        with gzip.open(path, "rt", newline="") as handle:
            reader = csv.reader(handle)
            header = tuple(next(reader, ()))
            if header != HEADER:
                raise DatasetError(f"{str(path)!r} has columns {header}, not {HEADER}")
            table: dict[str, dict[str, Any]] = {}
            for claim, item, group, quantity, value in reader:
                entry = table.setdefault(claim, {"ids": {}, "values": {}})
                entry["ids"].setdefault(item, group)
                entry["values"].setdefault(quantity, {})[item] = float(value)
    except (OSError, EOFError, ValueError, csv.Error) as exc:
        raise DatasetError(f"cannot read the items file {str(path)!r}: {exc}. Fix: re-run `axiomtests run` to "
                           "write it again, or delete it (the report itself does not need it).") from None
    out = {}
    for claim, entry in table.items():
        ids = list(entry["ids"])
        own = all(group == item for item, group in entry["ids"].items())
        out[claim] = Items(tuple(ids), None if own else tuple(entry["ids"][i] for i in ids),
                           {q: np.array([v.get(i, np.nan) for i in ids]) for q, v in entry["values"].items()})
    return out


def shared_positions(before: Items, after: Items) -> list[tuple[int, int]]:
    """``(index in before, index in after)`` of every item id both runs hold, in ``after``'s order."""
    index = {item: n for n, item in enumerate(before.ids)}
    return [(index[item], n) for n, item in enumerate(after.ids) if item in index]


def paired_difference(before: Items, after: Items, quantity: str, *, seed: int = 0,
                      shared: Sequence[tuple[int, int]] | None = None) -> dict[str, Any] | None:
    """``after − before`` of one quantity over the items both runs measured (``shared``: their
    :func:`shared_positions`, computed when not given): the mean difference with a percentile bootstrap CI over the
    items' groups (the same items in both runs, so the pairing removes the items' own spread). None when the runs
    share fewer than 2 items with a finite value of it."""
    if quantity not in before.values or quantity not in after.values:
        return None
    shared = shared_positions(before, after) if shared is None else shared
    b = np.array([before.values[quantity][i] for i, _ in shared])
    a = np.array([after.values[quantity][j] for _, j in shared])
    finite = np.isfinite(a) & np.isfinite(b)
    if finite.sum() < 2:
        return None
    kept = [after.group_labels[j] for (_, j), f in zip(shared, finite) if f]
    diff = (a - b)[finite]
    ones = np.ones(len(diff))
    low, high = bootstrap_ratio_ci(diff[:, None], np.zeros_like(ones), ones, kept, seed=seed)
    return {"quantity": quantity, "items": int(finite.sum()), "groups": len(set(kept)),
            "before": float(b[finite].mean()), "after": float(a[finite].mean()), "difference": float(diff.mean()),
            "ci": [float(low[0]), float(high[0])]}


def changed_quantities(before: Items, after: Items, *, seed: int = 0,
                       shared: Sequence[tuple[int, int]] | None = None) -> list[dict[str, Any]]:
    """:func:`paired_difference` of every quantity both runs hold whose 95% CI excludes 0, the clearest first
    (largest difference in units of its CI's half-width)."""
    shared = shared_positions(before, after) if shared is None else shared
    out = []
    for quantity in before.values.keys() & after.values.keys():
        change = paired_difference(before, after, quantity, seed=seed, shared=shared)
        if change is not None and (change["ci"][0] > 0 or change["ci"][1] < 0):
            half = max((change["ci"][1] - change["ci"][0]) / 2, 1e-12)
            out.append((-abs(change["difference"]) / half, quantity, change))
    return [change for _, _, change in sorted(out, key=lambda t: (t[0], t[1]))]
