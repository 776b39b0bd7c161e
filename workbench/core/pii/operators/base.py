"""The operator contract and its registry: :class:`Operator`, :class:`ParamSpec`, :class:`OperatorContext`,
:class:`OperatorConfig`, and :data:`OPERATORS` (a :class:`workbench.core.registry.Registry` holding one shared
instance of each operator, imported on first use).

The built-in operators are registered by module path in :mod:`workbench.core.pii.operators`; a further one is
added with :func:`register_operator` (a class decorator) or ``OPERATORS.register(name, "module:Class")``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from workbench.core.errors import WorkbenchError
from workbench.core.pii.keys import AnonymizationKeys
from workbench.core.registry import Registry, UnknownNameError


class OperatorError(WorkbenchError):
    """An operator is unknown, misconfigured, or lacks the keys it needs."""


# ---- parameters ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """One parameter of an operator, described for validation and for building a form.

    ``kind`` is ``"str"``, ``"char"`` (one character), ``"int"``, ``"bool"`` or ``"choice"``. ``optional``
    parameters accept ``None`` (JSON ``null``), which means the documented default behaviour.
    """

    name: str
    kind: str
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    optional: bool = False

    def validate(self, value: Any) -> Any:
        """The value, checked and normalised; raises ValueError with a sentence saying what is expected."""
        if value is None:
            if self.optional:
                return None
            raise ValueError(f"{self.name} must be given ({self.help})")
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise ValueError(f"{self.name} must be true or false, not {_type_name(value)}")
            return value
        if self.kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{self.name} must be a whole number, not {_type_name(value)}")
            if self.minimum is not None and value < self.minimum:
                raise ValueError(f"{self.name} must be at least {self.minimum}, not {value}")
            if self.maximum is not None and value > self.maximum:
                raise ValueError(f"{self.name} must be at most {self.maximum}, not {value}")
            return value
        if not isinstance(value, str):
            raise ValueError(f"{self.name} must be a string, not {_type_name(value)}")
        if self.kind == "char" and len(value) != 1:
            raise ValueError(f"{self.name} must be exactly one character, not {len(value)}")
        if self.kind == "choice" and value not in self.choices:
            raise ValueError(f"{self.name} must be one of: {', '.join(self.choices)}; not {value!r}")
        return value

    def to_json(self) -> dict[str, Any]:
        """A JSON description (for a GUI form or documentation)."""
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "default": self.default, "help": self.help}
        if self.choices:
            out["choices"] = list(self.choices)
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        out["optional"] = self.optional
        return out


def _type_name(value: Any) -> str:
    return {
        str: "a string",
        int: "a number",
        float: "a number",
        bool: "true/false",
        list: "a list",
        dict: "an object",
    }.get(type(value), type(value).__name__)


@dataclass(frozen=True, slots=True)
class OperatorContext:
    """What an operator may know besides the value.

    Attributes
    ----------
    entity_type:
        The detected type (``PERSON``...), or the column's entity type.
    keys:
        The project's keys, for keyed operators.
    subject:
        An identifier of the person the value belongs to (e.g. the row's patient id) for per-subject date
        shifts; ``None`` shifts all dates of the dataset alike.
    """

    entity_type: str
    keys: AnonymizationKeys | None = None
    subject: str | None = None


# ---- the operator ABC and registry ------------------------------------------------------------------------------


class Operator(ABC):
    """Base class of anonymization operators (see the module docstring).

    Subclasses set the class attributes and implement :meth:`operate`. Operators are stateless apart from
    caches; one instance serves every thread.
    """

    name: ClassVar[str]
    label: ClassVar[str]
    description: ClassVar[str]
    params: ClassVar[tuple[ParamSpec, ...]] = ()
    needs_keys: ClassVar[bool] = False
    deterministic: ClassVar[bool] = True
    """Same value, context and keys give the same output (so results may be cached per value)."""
    reversible: ClassVar[bool] = False
    uses_subject: ClassVar[bool] = False
    """The output may depend on ``OperatorContext.subject``."""

    def validate(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Check ``params`` against :attr:`params`; returns them complete (defaults filled in).

        Raises
        ------
        OperatorError
            Naming the unknown or invalid parameter and what is expected.
        """
        known = {p.name: p for p in self.params}
        unknown = sorted(set(params) - set(known))
        if unknown:
            choices = ", ".join(known) if known else "none"
            raise OperatorError(f"operator {self.name!r} has no parameter {unknown[0]!r}; its parameters: {choices}")
        out: dict[str, Any] = {}
        for spec in self.params:
            value = params.get(spec.name, spec.default)
            try:
                out[spec.name] = spec.validate(value)
            except ValueError as exc:
                raise OperatorError(f"operator {self.name!r}: {exc}") from None
        return out

    def params_for(self, entity_type: str | None) -> tuple[ParamSpec, ...]:
        """The parameters that change what this operator does to ``entity_type`` (``None``: all of them); a form
        offers only these (issue 13: a ZIP code row must not offer a date granularity)."""
        return self.params

    @abstractmethod
    def operate(self, text: str, params: Mapping[str, Any], context: OperatorContext) -> str:
        """The anonymized form of ``text``. ``params`` were validated by :meth:`validate`."""


def _instantiate(cls: type[Operator]) -> Operator:
    """The one shared instance of a registered operator class."""
    if not (isinstance(cls, type) and issubclass(cls, Operator)):
        raise TypeError(f"a registered operator must be an Operator subclass, not {cls!r}")
    return cls()


OPERATORS: Registry[Operator] = Registry("operator", factory=_instantiate)
"""Operator name -> ``"module:OperatorClass"``; :meth:`~workbench.core.registry.Registry.get` returns the class's
one shared instance (operators are stateless apart from caches)."""


def register_operator(cls: type[Operator]) -> type[Operator]:
    """Class decorator: add an operator to the registry (the name must be new)."""
    OPERATORS.add(cls.name, _instantiate(cls))
    return cls


def operator_names() -> tuple[str, ...]:
    """Registered operator names, in registration order (imports no operator module)."""
    return OPERATORS.names()


def get_operator(name: str) -> Operator:
    """The registered operator called ``name``.

    Raises
    ------
    OperatorError
        ``unknown operator 'x'; choose one of: keep, redact, ...``.
    """
    try:
        return OPERATORS.get(name)
    except UnknownNameError:
        raise OperatorError(f"unknown operator {name!r}; choose one of: {', '.join(operator_names())}") from None


@dataclass(frozen=True, slots=True)
class OperatorSpec:
    """What the GUI needs to list an operator in a menu and build its form."""

    name: str
    label: str
    description: str
    params: tuple[ParamSpec, ...]
    needs_keys: bool
    reversible: bool
    deterministic: bool


def operator_specs() -> tuple[OperatorSpec, ...]:
    """Every registered operator, described (for menus, forms and ``--help``); imports every operator module."""
    operators = [OPERATORS.get(name) for name in OPERATORS.names()]
    return tuple(
        OperatorSpec(op.name, op.label, op.description, op.params, op.needs_keys, op.reversible, op.deterministic)
        for op in operators
    )


@dataclass(frozen=True, slots=True)
class OperatorConfig:
    """An operator with validated parameters; immutable and hashable. Build with :meth:`create`.

    ``params`` holds every parameter (defaults filled in) as sorted ``(name, value)`` pairs.
    """

    operator: str
    params: tuple[tuple[str, Any], ...] = field(default=())

    @classmethod
    def create(cls, operator: str, **params: Any) -> OperatorConfig:
        """Validate and build; raises :class:`OperatorError` for an unknown operator or parameter."""
        validated = get_operator(operator).validate(params)
        return cls(operator, tuple(sorted(validated.items())))

    @property
    def param_dict(self) -> dict[str, Any]:
        return dict(self.params)

    @property
    def spec(self) -> Operator:
        return get_operator(self.operator)

    def to_json(self) -> dict[str, Any]:
        """``{"operator": name, **params}`` with parameters that differ from the defaults."""
        defaults = {p.name: p.default for p in self.spec.params}
        out: dict[str, Any] = {"operator": self.operator}
        out.update({k: v for k, v in self.params if defaults.get(k, object()) != v})
        return out

    @classmethod
    def from_json(cls, data: Any) -> OperatorConfig:
        """Parse ``{"operator": name, ...params}`` (or a bare operator name); raises :class:`OperatorError`."""
        if isinstance(data, str):
            return cls.create(data)
        if not isinstance(data, Mapping):
            raise OperatorError(f'an operator must be an object like {{"operator": "replace"}}, not {_type_name(data)}')
        if "operator" not in data:
            raise OperatorError(f'missing "operator"; choose one of: {", ".join(operator_names())}')
        name = data["operator"]
        if not isinstance(name, str):
            raise OperatorError(f'"operator" must be a string naming one of: {", ".join(operator_names())}')
        params = {k: v for k, v in data.items() if k != "operator"}
        return cls.create(name, **params)

    def describe(self) -> str:
        """Short text for menus and reports, e.g. ``mask(chars_to_mask=4, from_end=true)``."""
        shown = {k: v for k, v in self.to_json().items() if k != "operator"}
        if not shown:
            return self.operator
        inner = ", ".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in shown.items())
        return f"{self.operator}({inner})"


def apply_operator(config: OperatorConfig, text: str, context: OperatorContext) -> str:
    """Run ``config`` on one value; raises :class:`OperatorError` when a keyed operator has no keys."""
    operator = get_operator(config.operator)
    if operator.needs_keys and context.keys is None:
        raise OperatorError(
            f"operator {config.operator!r} needs the project's keys; open a project (or pass a key file) before "
            "anonymizing with it"
        )
    return operator.operate(text, config.param_dict, context)


def needs_keys(configs: Iterable[OperatorConfig]) -> bool:
    """Whether any of ``configs`` needs the project's keys."""
    return any(get_operator(c.operator).needs_keys for c in configs)
