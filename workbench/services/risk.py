"""Measuring a dataset's re-identification risk: one use case for the Risk page and ``workbench risk``.

The quasi-identifiers and sensitive columns come from the column roles (the project's saved roles over the loader's
suggestions) unless the analyst names them. The report carries class sizes and counts only: the worst classes are
described by their sizes, never by their values, unless the analyst asks for ``examples`` (then the
quasi-identifier values of a few of the smallest classes are included, for the analyst's eyes only; never log them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.core.data.dataset import ColumnRole, Dataset
from workbench.core.errors import WorkbenchError
from workbench.core.risk.distribution import RiskDistribution, distinction_separation, risk_distribution
from workbench.core.risk.measure import RiskMeasures, measure_risk
from workbench.services.datasets import IN_CLEAR_REFUSAL
from workbench.services.session import ProjectSession
from workbench.services.training import dataset_roles

if TYPE_CHECKING:
    from workbench.core.jobs import CancelToken, JobGenerator
    from workbench.core.risk.criteria import Target
    from workbench.core.risk.hierarchy import Hierarchy
    from workbench.core.risk.search import GeneralizationResult

__all__ = [
    "GeneralizeOutcome",
    "HIERARCHY_KINDS",
    "RiskReport",
    "build_hierarchy",
    "columns_with_role",
    "hierarchy_build_label",
    "generalize",
    "generalize_job",
    "risk_report",
    "suggest_hierarchies",
]

WORST_SIZES = 5
"""How many of the smallest class sizes the report lists (size and number of classes of that size)."""


@dataclass(frozen=True, slots=True)
class RiskReport:
    """A dataset's risk: k, classes, sample and population risks, l and t per sensitive column.

    ``worst_classes`` lists the smallest class sizes with how many classes and records have each; ``examples`` is
    empty unless asked for (quasi-identifier values of some of the smallest classes).
    """

    dataset: str
    records: int
    quasi_identifiers: tuple[str, ...]
    sensitive: tuple[str, ...]
    roles_from: str  # "roles" (the project's or the loader's) or "arguments"
    measures: RiskMeasures
    worst_classes: tuple[dict[str, int], ...]
    examples: tuple[dict[str, Any], ...] = ()
    distribution: RiskDistribution | None = None
    attributes: tuple[tuple[str, float, float], ...] = ()  # per quasi-identifier: distinction, separation

    @property
    def k(self) -> int:
        return self.measures.k

    def as_dict(self) -> dict[str, Any]:
        m = self.measures
        return {
            "dataset": self.dataset,
            "records": self.records,
            "quasi_identifiers": list(self.quasi_identifiers),
            "sensitive": list(self.sensitive),
            "roles_from": self.roles_from,
            "k": m.k,
            "equivalence_classes": m.classes.num_classes,
            "class_size_histogram": [
                {"size": s, "classes": c} for s, c in zip(m.histogram_sizes, m.histogram_counts, strict=True)
            ],
            "worst_classes": [dict(w) for w in self.worst_classes],
            "sample": m.sample.as_dict(),
            "population": m.population.as_dict(),
            "sensitive_measures": [s.as_dict() for s in m.sensitive],
            "risk_distribution": self.distribution.as_dict() if self.distribution is not None else None,
            "quasi_identifier_distinction_separation": [
                {"column": c, "distinction": d, "separation": sep} for c, d, sep in self.attributes
            ],
            "examples": [dict(e) for e in self.examples],
        }


def columns_with_role(roles: dict[str, ColumnRole], role: ColumnRole) -> list[str]:
    """The columns with ``role``, in the table's order."""
    return [c for c, r in roles.items() if r == role]


def _pick_columns(
    session: ProjectSession | None, dataset: Dataset, qi: Sequence[str] | None, sensitive: Sequence[str] | None
) -> tuple[list[str], list[str], str]:
    if qi is not None and sensitive is not None:
        return list(qi), list(sensitive), "arguments"
    roles = dataset_roles(session, dataset)
    chosen_qi = list(qi) if qi is not None else columns_with_role(roles, ColumnRole.QUASI_IDENTIFIER)
    chosen_s = list(sensitive) if sensitive is not None else columns_with_role(roles, ColumnRole.SENSITIVE)
    chosen_s = [s for s in chosen_s if s not in chosen_qi]
    if not chosen_qi:
        raise WorkbenchError(
            "no quasi-identifiers: name them (--qi A,B,C) or give columns the quasi_identifier role "
            "(workbench roles --role COLUMN=quasi_identifier)"
        )
    return chosen_qi, chosen_s, "arguments" if qi is not None else "roles"


def _worst_classes(measures: RiskMeasures) -> tuple[dict[str, int], ...]:
    pairs = list(zip(measures.histogram_sizes, measures.histogram_counts, strict=True))[:WORST_SIZES]
    return tuple({"size": s, "classes": c, "records": s * c} for s, c in pairs)


def _examples(dataset: Dataset, measures: RiskMeasures, limit: int) -> tuple[dict[str, Any], ...]:
    """One row's quasi-identifier values per class, for up to ``limit`` of the smallest classes."""
    import numpy as np

    classes = measures.classes
    smallest = np.argsort(classes.sizes, kind="stable")[:limit]
    first_row = np.full(classes.num_classes, -1, dtype=np.int64)
    rows = np.arange(classes.num_records)
    first_row[classes.class_of_row[::-1]] = rows[::-1]  # the first row of each class
    picked = first_row[smallest]
    sub = dataset.table.select(list(measures.quasi_identifiers)).take(picked).to_pylist()
    return tuple({"size": int(classes.sizes[c]), "values": v} for c, v in zip(smallest, sub, strict=True))


def risk_report(
    session: ProjectSession | None,
    dataset: Dataset,
    *,
    qi: Sequence[str] | None = None,
    sensitive: Sequence[str] | None = None,
    population_size: int | None = None,
    sampling_fraction: float | None = None,
    threshold: float = 0.2,
    recursive_l: int = 2,
    examples: bool = False,
    example_limit: int = 5,
) -> RiskReport:
    """The risk report of ``dataset``; quasi-identifiers and sensitive columns from the roles unless given.

    ``population_size`` (or ``sampling_fraction``) sets the population for the uniqueness models; without either
    the sample is taken as a 10 % sample (ARX's default).
    """
    chosen_qi, chosen_s, source = _pick_columns(session, dataset, qi, sensitive)
    unknown = [c for c in (*chosen_qi, *chosen_s) if c not in dataset.column_names]
    if unknown:
        raise WorkbenchError(f"no such column: {', '.join(unknown)} (columns: {', '.join(dataset.column_names)})")
    if population_size is not None and population_size < dataset.num_rows:
        raise WorkbenchError(
            f"the population size ({population_size}) is smaller than the dataset ({dataset.num_rows} records)"
        )
    try:
        measures = measure_risk(
            dataset.table,
            chosen_qi,
            chosen_s,
            population_size=population_size,
            sampling_fraction=sampling_fraction,
            threshold=threshold,
            recursive_l=recursive_l,
        )
    except ValueError as exc:
        raise WorkbenchError(str(exc)) from exc
    if session is not None and not session.project.read_only:
        session.project.audit(  # sizes and the columns measured, never a value (issue 18)
            "risk.computed",
            fingerprint=dataset.fingerprint,
            dataset=dataset.name,
            records=dataset.num_rows,
            quasi_identifiers=list(chosen_qi),
            sensitive=list(chosen_s),
            k=measures.k,
            equivalence_classes=measures.classes.num_classes,
        )
    attributes = distinction_separation(dataset.table, chosen_qi)
    return RiskReport(
        dataset=dataset.name,
        records=dataset.num_rows,
        quasi_identifiers=tuple(chosen_qi),
        sensitive=tuple(chosen_s),
        roles_from=source,
        measures=measures,
        worst_classes=_worst_classes(measures),
        examples=_examples(dataset, measures, example_limit) if examples else (),
        distribution=risk_distribution(measures.histogram_sizes, measures.histogram_counts),
        attributes=tuple((str(c), d, sep) for c, (d, sep) in attributes.items()),
    )


def suggest_hierarchies(
    dataset: Dataset, columns: Sequence[str], folder: str | Path | None = None
) -> tuple[dict[str, Hierarchy], dict[str, str]]:
    """A hierarchy per column, and what each is: from ARX hierarchy CSVs in ``folder`` where one is there for the
    column (``*hierarchy_<column>.csv`` or ``<column>.csv``), else built from the column's values
    (:func:`workbench.core.risk.hierarchy.suggest_hierarchy`)."""
    from workbench.core.risk.classes import column_codes
    from workbench.core.risk.hierarchy import read_arx_folder, suggest_hierarchy

    hierarchies: dict[str, Hierarchy] = {}
    what: dict[str, str] = {}
    for column in columns:
        if column not in dataset.column_names:
            raise WorkbenchError(f"no such column: {column}")
        if folder is not None:
            try:
                hierarchies.update(read_arx_folder(folder, [column]))
                what[column] = f"ARX hierarchy from {Path(folder).name}"
                continue
            except FileNotFoundError:
                pass
            except (OSError, ValueError) as exc:
                raise WorkbenchError(f"the hierarchy of {column!r} cannot be read: {exc}") from exc
        _codes, dictionary = column_codes(dataset.table.column(column))
        hierarchies[column], what[column] = suggest_hierarchy(column, dictionary.to_pylist())
    return hierarchies, what


HIERARCHY_KINDS = ("intervals", "dates", "masking", "ordered", "one-level")
"""The hierarchy builders an analyst can choose (:func:`build_hierarchy`)."""
DATE_LEVELS = ("month", "year", "decade")


def hierarchy_build_label(
    kind: str,
    *,
    widths: Sequence[float] | None = None,
    mask: str = "*",
    group_sizes: Sequence[int] | None = None,
    date_levels: Sequence[str] | None = None,
) -> str:
    """What an edited hierarchy is, for the columns table ("edited: intervals 5,10,20")."""
    if kind == "intervals":
        return "edited: intervals " + ",".join(f"{w:g}" for w in widths or ())
    if kind == "ordered":
        return "edited: ordered groups " + ",".join(str(g) for g in group_sizes or ())
    if kind == "masking":
        return f"edited: masking with {mask}"
    if kind == "dates":
        return "edited: dates " + ", ".join(date_levels or DATE_LEVELS)
    return "edited: one level"


def build_hierarchy(
    dataset: Dataset,
    column: str,
    kind: str,
    *,
    widths: Sequence[float] | None = None,
    mask: str = "*",
    group_sizes: Sequence[int] | None = None,
    date_levels: Sequence[str] | None = None,
) -> Hierarchy:
    """``column``'s hierarchy from the builder ``kind`` (one of :data:`HIERARCHY_KINDS`) and its parameters:
    interval ``widths`` (each a multiple of the one before), the masking character, ordered-category
    ``group_sizes`` (values in their natural order: numbers by value, else texts), the ``date_levels`` kept (of
    month, year, decade). A missing value stays apart up to the top level. Errors name the parameter, never a value.
    """
    from workbench.core.risk.classes import column_codes

    if column not in dataset.column_names:
        raise WorkbenchError(f"no such column: {column}")
    if kind not in HIERARCHY_KINDS:
        raise WorkbenchError(f"unknown hierarchy kind {kind!r}: choose one of {', '.join(HIERARCHY_KINDS)}")
    _codes, dictionary = column_codes(dataset.table.column(column))
    texts = sorted({"" if v is None else str(v) for v in dictionary.to_pylist()})
    present = [t for t in texts if t != ""]
    if not present:
        raise WorkbenchError(f"the column {column!r} has no values to build a hierarchy from")
    try:
        h = _build(column, kind, present, widths=widths, mask=mask, group_sizes=group_sizes, date_levels=date_levels)
    except ValueError as exc:
        raise WorkbenchError(f"the {kind} hierarchy of {column!r} cannot be built: {exc}") from exc
    if len(present) != len(texts):
        h = _with_missing(h)
    return h


def _with_missing(h: Hierarchy) -> Hierarchy:
    from workbench.core.risk.hierarchy import Hierarchy

    return Hierarchy(h.column, h.rows + (("",) * (h.height - 1) + ("*",),))


def _numbers(column: str, present: list[str], what: str) -> list[float]:
    import math

    numbers = []
    for text in present:
        try:
            x = float(text)
        except ValueError:
            x = math.nan
        numbers.append(x)
    bad = sum(1 for x in numbers if not math.isfinite(x))
    if bad:
        raise WorkbenchError(
            f"{what} need a numeric column: {bad} of the {len(present)} distinct values of {column!r} are not numbers "
            "(choose masking, ordered or one level for it)"
        )
    return numbers


def _increasing(name: str, sizes: Sequence[float]) -> None:
    if not sizes:
        raise WorkbenchError(f"give at least one {name} (comma-separated, e.g. 5,10,20)")
    if any(s <= 0 for s in sizes):
        raise WorkbenchError(f"{name}s must be positive")
    for a, b in zip(sizes, sizes[1:], strict=False):
        if b <= a:
            raise WorkbenchError(f"{name}s must increase ({a:g} then {b:g})")


def _build(
    column: str,
    kind: str,
    present: list[str],
    *,
    widths: Sequence[float] | None,
    mask: str,
    group_sizes: Sequence[int] | None,
    date_levels: Sequence[str] | None,
) -> Hierarchy:
    from workbench.core.risk.hierarchy import (
        Hierarchy,
        date_hierarchy,
        interval_hierarchy,
        masking_hierarchy,
        ordered_hierarchy,
    )

    if kind == "intervals":
        _numbers(column, present, "intervals")
        _increasing("interval width", list(widths or ()))
        return interval_hierarchy(column, present, list(widths or ()))
    if kind == "dates":
        levels = list(DATE_LEVELS if date_levels is None else date_levels)
        unknown = [level for level in levels if level not in DATE_LEVELS]
        if unknown or not levels:
            got = ", ".join(levels) or "none"
            raise WorkbenchError(f"date levels are some of {', '.join(DATE_LEVELS)} (got {got})")
        try:
            full = date_hierarchy(column, present)
        except ValueError as exc:
            raise WorkbenchError(f"dates need ISO dates (YYYY-MM-DD) in {column!r}: some values are not") from exc
        keep = [0] + [1 + DATE_LEVELS.index(level) for level in sorted(set(levels), key=DATE_LEVELS.index)] + [4]
        return Hierarchy(column, tuple(tuple(r[i] for i in keep) for r in full.rows))
    if kind == "masking":
        if len(mask) != 1 or mask.isspace():
            raise WorkbenchError("the mask is one visible character (e.g. *)")
        return masking_hierarchy(column, present, mask)
    if kind == "ordered":
        sizes = [int(g) for g in group_sizes or ()]
        _increasing("group size", sizes)
        try:
            numbers = _numbers(column, present, "numbers")
            ordered = [t for _x, t in sorted(zip(numbers, present, strict=True))]
        except WorkbenchError:
            ordered = present
        return ordered_hierarchy(column, ordered, sizes)
    return Hierarchy(column, tuple((t, "*") for t in present))


# --- generalization to a target ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GeneralizeOutcome:
    """The optimum found, where the generalized copy went (``None``: not applied), and the risk before and after.

    ``risk_after`` is measured on the records that are not suppressed, as ARX does; ``risk_before`` on the whole
    dataset over the same columns.
    """

    search: GeneralizationResult
    location: str | None
    risk_after: RiskReport | None
    dataset_id: int | None = None
    parent_id: int | None = None
    risk_before: RiskReport | None = None
    output_name: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out = self.search.as_dict()
        out["location"] = self.location
        out["dataset_id"] = self.dataset_id
        out["parent_id"] = self.parent_id
        out["output_name"] = self.output_name
        out["risk_before"] = self.risk_before.as_dict() if self.risk_before is not None else None
        out["risk_after"] = self.risk_after.as_dict() if self.risk_after is not None else None
        return out


def generalize(
    session: ProjectSession | None,
    dataset: Dataset,
    *,
    qi: Sequence[str],
    hierarchies: Mapping[str, Hierarchy],
    k: int,
    max_suppression: float = 0.0,
    sensitive: str | None = None,
    l: int | None = None,  # noqa: E741 - the model's name
    l_variant: str = "distinct",
    c: float = 3.0,
    t: float | None = None,
    average_risk: float | None = None,
    metric: str = "entropy",
    out: str | Path | None = None,
    fmt: str = "csv",
    in_clear: bool = False,
    overwrite: bool = False,
    apply: bool = True,
) -> GeneralizeOutcome:
    """:func:`generalize_job` with the target spelled out, run to its end."""
    from workbench.core.jobs import drive
    from workbench.core.risk.criteria import Target

    target = Target(k, max_suppression, l, l_variant, c, t, average_risk)
    return drive(
        generalize_job(
            session, dataset, qi=qi, hierarchies=hierarchies, target=target, sensitive=sensitive, metric=metric,
            out=out, fmt=fmt, in_clear=in_clear, overwrite=overwrite, apply=apply,
        )
    )  # fmt: skip


def generalize_job(
    session: ProjectSession | None,
    dataset: Dataset,
    *,
    qi: Sequence[str],
    hierarchies: Mapping[str, Hierarchy],
    target: Target,
    sensitive: str | None = None,
    metric: str = "entropy",
    out: str | Path | None = None,
    fmt: str = "csv",
    in_clear: bool = False,
    overwrite: bool = False,
    apply: bool = True,
    token: CancelToken | None = None,
) -> JobGenerator[GeneralizeOutcome]:
    """Find the generalization of ``qi`` that satisfies ``target`` (k, suppression limit, and l-diversity or
    t-closeness of ``sensitive``, or an average risk) with the least ``metric`` and, with ``apply``, write it as a
    new dataset (never over the original): into the vault of an encrypted project (unless ``out`` is given with
    ``in_clear``), else to ``out`` or next to the source as ``<stem>.generalized.<fmt>``; in a project it is
    registered with its lineage (levels, target, suppression, loss) and the step is audited. Yields progress;
    ``token`` cancels it (before anything is written)."""
    from workbench.core.jobs import Progress
    from workbench.core.risk.lattice import Lattice, apply_generalization
    from workbench.core.risk.search import search_job

    if session is not None and session.encrypted and out is not None and not in_clear:
        raise WorkbenchError(IN_CLEAR_REFUSAL.format(what="the generalized copy"))
    yield Progress("hierarchies", 0, None, "", "applying the hierarchies")
    try:
        lattice = Lattice.build(dataset.table, hierarchies, list(qi), sensitive=sensitive)
        result = yield from search_job(lattice, target, metric, token)
    except ValueError as exc:
        raise WorkbenchError(str(exc)) from exc
    if result.levels is None:
        raise WorkbenchError(
            f"no generalization satisfies {_target_words(target)} with at most {result.suppression_limit} records "
            "suppressed; allow more suppression (--max-suppression) or give hierarchies with more levels"
        )
    if token is not None:
        token.raise_if_cancelled()
    yield Progress("measuring", 0, None, "", "measuring the risk before and after")
    assert result.outliers is not None
    table, suppressed = apply_generalization(dataset.table, lattice, result.levels, lattice.rows_of(result.outliers))
    kept = replace(dataset, table=table.filter(_arrow_mask(~suppressed)))
    sens = [sensitive] if sensitive is not None else []
    before = risk_report(None, dataset, qi=list(qi), sensitive=sens)
    after = risk_report(None, kept, qi=list(qi), sensitive=sens) if kept.num_rows else None
    if not apply:
        return GeneralizeOutcome(result, None, after, risk_before=before)
    if token is not None:
        token.raise_if_cancelled()
    yield Progress("writing", 0, None, "", "writing the generalized copy")
    outcome = _write_generalized(session, dataset, table, result, after, out, fmt, in_clear, overwrite)
    return replace(outcome, risk_before=before)


def _target_words(target: Target) -> str:
    words = [f"{target.k}-anonymity"]
    if target.l is not None:
        words.append(f"{target.l_variant} {target.l}-diversity")
    if target.t is not None:
        words.append(f"{target.t:g}-closeness")
    if target.average_risk is not None:
        words.append(f"an average risk of at most {target.average_risk:g}")
    return ", ".join(words)


def _arrow_mask(mask: Any) -> Any:
    """A numpy boolean mask as a pyarrow array (for ``Table.filter``)."""
    import pyarrow as pa

    return pa.array(mask)


def _write_generalized(
    session: ProjectSession | None,
    dataset: Dataset,
    table: Any,
    result: GeneralizationResult,
    after: RiskReport | None,
    out: str | Path | None,
    fmt: str,
    in_clear: bool,
    overwrite: bool,
) -> GeneralizeOutcome:
    import hashlib

    from workbench.core.data.load import load_dataset, load_dataset_bytes_job
    from workbench.core.jobs import drive
    from workbench.core.pii.output import write_output
    from workbench.core.project.registration import register_loaded
    from workbench.services.anonymize import note_derived, serialize_table
    from workbench.services.datasets import register_shown_dataset

    into_vault = session is not None and session.encrypted and out is None
    parent = register_shown_dataset(session, dataset) if session is not None else None
    name = f"{Path(dataset.name).stem}.generalized.{fmt}"
    if into_vault:
        assert session is not None
        data = serialize_table(table, fmt)
        location = session.store_bytes("dataset", hashlib.sha256(data).hexdigest(), data)
        out_ds = replace(drive(load_dataset_bytes_job(data, name)), path=location)
    else:
        if out is None:
            if not Path(dataset.path).is_file():
                raise WorkbenchError("the dataset has no file to write next to: name an output file (--out)")
            out = _next_free(Path(dataset.path).with_name(name))
        source = dataset.path if Path(dataset.path).is_file() else None
        written = write_output(table, out, fmt, source=source, overwrite=overwrite)
        location, out_ds = str(written), load_dataset(written)
    note_derived(out_ds.fingerprint, dataset.fingerprint)  # the copy charges the original's privacy budget
    if session is None or parent is None:
        return GeneralizeOutcome(result, location, after, output_name=location)
    record = register_loaded(session.project, out_ds)
    # The copy has the original's columns and meaning: its roles are the original's, the generalized columns
    # quasi-identifiers (so the Risk page, `workbench risk` and the report measure it the same way).
    roles = {**dict(parent.roles), **dict.fromkeys(result.quasi_identifiers, "quasi_identifier")}
    session.project.set_roles(record.id, {c: r for c, r in roles.items() if c in record.columns})
    detail = {**result.as_dict(), "parent_fingerprint": parent.fingerprint}
    session.project.add_lineage(record.id, parent.id, "generalize", detail)
    session.project.audit(  # levels and counts, no values
        "dataset.generalized",
        dataset_id=record.id,
        parent_dataset_id=parent.id,
        levels=detail["levels"],
        k=result.k,
        target=result.target.as_dict(),
        metric=result.metric,
        suppressed_records=result.suppressed_records,
        in_vault=into_vault,
    )
    if session.encrypted and not into_vault:
        session.project.audit("dataset.exported", dataset_id=record.id, path=location, in_clear=True, from_vault=False)
    return GeneralizeOutcome(
        result, location, after, dataset_id=record.id, parent_id=parent.id, output_name=_found_as(session, record.id)
    )


def _found_as(session: ProjectSession, dataset_id: int) -> str:
    """The new dataset as the analyst finds it: its label in the project's lists, and where it is."""
    from workbench.services.dataset_labels import dataset_labels, dataset_location

    records = session.project.datasets()
    record = next(r for r in records if r.id == dataset_id)
    return f"{dataset_labels(records, session.project)[dataset_id]}, {dataset_location(record)}"


def _next_free(path: Path) -> Path:
    """``path``, or ``<stem>-2<suffix>``, ``-3``, ... when it exists."""
    candidate, n = path, 2
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        n += 1
    return candidate
