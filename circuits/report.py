"""The run report: one schema-versioned JSON per run, rendered as Markdown, compared across checkpoints.

Same inputs give a byte-identical JSON: keys are sorted, floats are rounded to 6 significant digits, and
nothing time-dependent is stored (timings live in the benchmark files, not here).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from circuits.errors import DatasetError
from circuits.items import ITEMS_FILE, Items, read_items, write_items

SCHEMA_VERSION = 3  # 2: claims carry se, unit and n_units; status 'error' keeps its reason. 3: control
STATUSES = ("pass", "fail", "skip", "error")
KINDS = ("paper", "extension")  # the paper's quantity by its protocol, or our own test (stricter, controlled, new)


@dataclass
class ClaimResult:
    """One claim's outcome on one checkpoint."""

    id: str
    status: str
    value: float | None = None
    threshold: str | None = None
    ci: tuple[float, float] | None = None
    se: float | None = None  # bootstrap standard error of ``value`` over ``n_units`` resampled ``unit``s
    unit: str | None = None
    n_units: int | None = None
    paper_value: float | str | None = None
    control: dict[str, Any] | None = None  # name, value, difference (value − control) and its CI, beaten
    statement: str = ""
    provenance: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    items: Items | None = field(default=None, repr=False, compare=False)  # the per-item values, in ITEMS_FILE
    kind: str | None = None  # a KINDS entry; None: a check outside the registry (or a report older than kinds)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status {self.status!r} is not one of {STATUSES}")
        if self.kind is not None and self.kind not in KINDS:
            raise ValueError(f"kind {self.kind!r} is not one of {KINDS}")


@dataclass
class Report:
    """Everything one run found about one checkpoint."""

    checkpoint: dict[str, Any]
    environment: dict[str, Any]
    datasets: dict[str, Any] = field(default_factory=dict)
    sections: dict[str, Any] = field(default_factory=dict)
    claims: list[ClaimResult] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)  # PNG file names written beside report.json
    schema_version: int = SCHEMA_VERSION

    def add(self, result: ClaimResult) -> None:
        self.claims = [c for c in self.claims if c.id != result.id] + [result]

    def section(self, title: str, value: Any) -> None:
        """Add the section ``title``. A dict adds its keys to a dict section of that title (several tests may fill
        one); a key, or a whole section, already there with another value raises ``ValueError``: one writer would
        silently overwrite the other."""
        if not isinstance(title, str) or not title:
            raise ValueError(f"a section title must be a non-empty string, got {title!r}")
        old = self.sections.get(title)
        if isinstance(old, dict) and isinstance(value, dict):
            clash = sorted(k for k in value.keys() & old.keys() if old[k] != value[k])
            if clash:
                raise ValueError(f"section {title!r} already holds other values for {clash}")
            self.sections[title] = {**old, **value}
        elif old is not None and old != value:
            raise ValueError(f"section {title!r} is already written with another value")
        else:
            self.sections[title] = dict(value) if isinstance(value, dict) else value

    def figure(self, name: str) -> None:
        """List the figure ``name`` (a PNG written beside ``report.json``), once."""
        if name not in self.figures:
            self.figures.append(name)

    @property
    def items(self) -> dict[str, Items]:
        """The per-item values of every claim that kept them, by claim id."""
        return {c.id: c.items for c in self.claims if c.items is not None}

    def to_dict(self) -> dict[str, Any]:
        data = asdict(replace(self, claims=[replace(c, items=None) for c in self.claims]))
        data["claims"] = sorted(({k: v for k, v in c.items() if k != "items"} for c in data["claims"]),
                                key=lambda c: c["id"])
        data["figures"] = sorted(set(data["figures"]))
        if self.items:
            data["items"] = {"file": ITEMS_FILE, "columns": "claim, item, group, quantity, value",
                             "claims": {claim: {"items": len(it), "groups": it.n_units, "quantities": len(it.values)}
                                        for claim, it in sorted(self.items.items())}}
        return _rounded(data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, allow_nan=False) + "\n"

    def to_markdown(self) -> str:
        ck = self.checkpoint
        lines = [f"# axiomtests report: {ck.get('name', '?')}", ""]
        lines.append(_github([[k, format_value(v)] for k, v in sorted(ck.items())], headers=["checkpoint", ""]))
        if self.claims:
            lines += _claim_tables(sorted(self.claims, key=lambda c: c.id))
            blind = [c.id for c in sorted(self.claims, key=lambda c: c.id) if c.details.get("discriminative") is False]
            if blind:
                lines += ["", "Not discriminative (they pass on a randomly initialised model of the same config "
                              "too): " + ", ".join(f"`{c}`" for c in blind)]
            errors = [c for c in self.claims if {"error", "not_computable"} & set(c.details)]
            if errors:
                lines += ["", "Claims that could not be computed:", ""]
                lines += [f"- `{c.id}` ({c.status}): {c.details.get('error') or c.details.get('not_computable')}"
                          for c in sorted(errors, key=lambda c: c.id)]
        for title, section in sorted(self.sections.items()):
            lines += ["", f"## {title}", ""]
            lines.append(_section_markdown(section))
        if self.items:
            rows = [[claim, len(it), it.n_units, len(it.values)] for claim, it in sorted(self.items.items())]
            lines += ["", "## Per-item values", "", f"`{ITEMS_FILE}` beside this report holds one row per item and "
                      "quantity (claim, item, group, quantity, value): the inputs of each claim's value and interval.",
                      "", _github(rows, headers=["claim", "items", "groups resampled", "quantities"])]
        if self.figures:
            lines += ["", "## Figures"]
            for name in sorted(set(self.figures)):
                lines += ["", f"![{name}]({name})"]
        env = self.environment
        lines += ["", "## Environment", "",
                  _github([[k, format_value(v)] for k, v in sorted(env.items())])]
        return "\n".join(lines) + "\n"

    def write(self, folder: str | Path) -> Path:
        """Write ``report.json``, ``report.md`` and, when claims kept their items, ``items.csv.gz`` into ``folder``;
        returns the JSON path."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        if self.items:
            write_items(self.items, folder / ITEMS_FILE)
        else:
            (folder / ITEMS_FILE).unlink(missing_ok=True)  # never leave an earlier run's items beside this report
        (folder / "report.json").write_text(self.to_json())
        (folder / "report.md").write_text(self.to_markdown())
        return folder / "report.json"


def load_report(path: str | Path) -> Report:
    """Read a report JSON, refusing files of another schema version; the claims' items are read back from the
    items file beside it when the report lists one and it is there."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DatasetError(f"cannot read report {str(path)!r}: {exc}. Fix: point to a report.json "
                           "written by `axiomtests run`.") from None
    if data.get("schema_version") != SCHEMA_VERSION:
        raise DatasetError(f"{str(path)!r} has report schema {data.get('schema_version')!r}; this axiomtests "
                           f"reads schema {SCHEMA_VERSION}. Fix: re-run `axiomtests run` to regenerate it.")
    listed = path.with_name(data["items"]["file"]) if data.get("items") else None
    items = read_items(listed) if listed is not None and listed.exists() else {}
    claims = [ClaimResult(**{**c, "ci": tuple(c["ci"]) if c.get("ci") else None}, items=items.get(c["id"]))
              for c in data["claims"]]
    return Report(checkpoint=data["checkpoint"], environment=data["environment"], datasets=data["datasets"],
                  sections=data["sections"], claims=claims, figures=data.get("figures", []))


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return float(f"{value:.6g}")
    if isinstance(value, dict):
        return {str(k): _rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rounded(v) for v in value]
    return value


def _claim_tables(claims: list[ClaimResult]) -> list[str]:
    """Markdown lines: the paper reproduction (paper-kind claims: the paper's number beside ours, with its CI),
    then our extensions and checks, labelled as ours."""
    nulls = any("null" in c.details for c in claims)
    paper = [c for c in claims if c.kind == "paper"]
    ours = [c for c in claims if c.kind != "paper"]
    lines = ["", "## Paper reproduction", "",
             "The paper's quantities, measured by its protocol (each claim's provenance quotes it): the paper's "
             "number for ms-marco-MiniLM-L-12-v2 beside this checkpoint's.", ""]
    if paper:
        rows = [[c.id, format_value(c.paper_value), format_value(c.value), format_value(c.ci), c.threshold or "", c.status,
                 f"{c.n_units} {c.unit}" if c.unit else "", _control_cell(c)] for c in paper]
        lines.append(_github(rows, headers=["claim", "paper", "ours", "95% CI", "threshold", "status", "resampled",
                                            "control (value; beaten?)"]))
    else:
        lines.append("No paper-kind claim ran.")
    if ours:
        rows = [[c.id, c.status, format_value(c.value), c.threshold or "", format_value(c.ci), format_value(c.se),
                 f"{c.n_units} {c.unit}" if c.unit else "", _control_cell(c), *([_null_cell(c)] if nulls else []),
                 format_value(c.paper_value)] for c in ours]
        lines += ["", "## Extensions (ours)", "",
                  "Our stricter causal tests and controls, quantities the paper does not report, and the engine's "
                  "own checks: judged by our thresholds, not the paper's numbers.", "",
                  _github(rows, headers=["claim", "status", "value", "threshold", "95% CI", "se", "resampled",
                                         "control (value; beaten?)", *(["null model"] if nulls else []),
                                         "paper (context)"])]
    return lines


def _control_cell(claim: ClaimResult) -> str:
    control = claim.control
    if not control:
        return ""
    return f"{control['name']}: {format_value(control['value'])}; {'yes' if control['beaten'] else 'no'}"


def _null_cell(claim: ClaimResult) -> str:
    null = claim.details.get("null")
    return f"{null['status']} {format_value(null['value'])}".strip() if null else ""


def _github(rows: list[list[Any]], headers: Any = ()) -> str:
    """A GitHub Markdown table; a ``|`` inside a cell is escaped so that it cannot split the cell."""
    from tabulate import tabulate

    def cell(value: Any) -> Any:
        return value.replace("|", "\\|") if isinstance(value, str) else value

    return tabulate([[cell(v) for v in row] for row in rows], headers=[cell(h) for h in headers], tablefmt="github")


def format_value(value: Any) -> str:
    """A value as report.md prints it: 4 significant digits, lists bracketed, None empty."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return str(value)


MAX_COLUMNS = 8  # a section table wider than this is split into tables that each repeat its row-naming column


def _column_groups(columns: list[str], width: int = MAX_COLUMNS) -> list[list[str]]:
    """``columns`` after the first, grouped by their first word (``pearson_bm25`` with ``pearson_random``) and the
    groups packed first-fit, in order, into tables of at most ``width`` columns, each led by the first column.

    >>> _column_groups(["k", "a_1", "a_2", "b_1", "c"], width=3)
    [['k', 'a_1', 'a_2'], ['k', 'b_1', 'c']]
    """
    groups: dict[str, list[str]] = {}
    for column in columns[1:]:
        groups.setdefault(column.split("_")[0], []).append(column)
    tables: list[list[str]] = []
    for group in groups.values():
        for start in range(0, len(group), width - 1):
            part = group[start:start + width - 1]
            room = next((table for table in tables if len(table) + len(part) <= width), None)
            if room is not None:
                room += part
            else:
                tables.append([columns[0], *part])
    return tables or [columns[:1]]


def _row_key(rows: list[dict], columns: list[str]) -> str:
    """The column that names the rows, to lead every split table: one of distinct integers or strings, the one that
    orders them if any (rows keep their keys sorted in report.json), else the first column."""
    def names(column: str) -> bool:
        values = [row.get(column) for row in rows]
        labels = all(isinstance(v, (int, str)) and not isinstance(v, bool) for v in values)
        return labels and len(set(values)) == len(values)  # types first: a list cell is unhashable

    keys = [c for c in columns if names(c)]
    ordered = [c for c in keys if [row[c] for row in rows] == sorted(row[c] for row in rows)]
    return (ordered or keys or columns)[0]


def _section_markdown(section: Any) -> str:
    if isinstance(section, list) and section and isinstance(section[0], dict):
        columns = list(dict.fromkeys([_row_key(section, list(section[0])), *section[0]]))
        return "\n\n".join(_github([[format_value(row.get(c)) for c in table] for row in section], headers=table)
                            for table in _column_groups(columns))
    if isinstance(section, dict):
        return _github([[k, format_value(v)] for k, v in sorted(section.items())])
    return format_value(section)
