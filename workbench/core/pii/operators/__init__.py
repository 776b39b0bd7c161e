"""Anonymization operators: what happens to a detected value.

After Presidio's anonymizer: every operator is an :class:`Operator` subclass with a name, a declared parameter
list and an ``operate`` method, registered in a registry (:data:`OPERATORS`, a
:class:`workbench.core.registry.Registry`) from which :func:`get_operator` and :func:`operator_specs` (for the GUI's
menus and forms) read. An :class:`OperatorConfig` names an operator with validated parameters; it is what a policy
stores.

Layout: :mod:`.base` (the contract, :class:`OperatorConfig`, the registry), one module per operator (imported the
first time the operator is used: this package registers them by module path, like the data loaders),
:mod:`.dates` (date parsing), :mod:`.tokens` (the ``ENC1.`` token format) and :mod:`.fakes` (the Faker pool and
keyed fake generators of ``pseudonym``). A further operator is added with :func:`register_operator` (a class
decorator) or ``OPERATORS.register(name, "module:Class")``.

The operators:

``keep``
    Leave the value as it is.
``redact``
    Remove the value (empty string).
``replace``
    ``<ENTITY_TYPE>``, or a fixed ``new_value``.
``mask``
    Overwrite ``chars_to_mask`` characters (all by default) with ``masking_char``, from the start or the end;
    ``skip_separators`` masks only letters and digits (``***-***-4567``).
``keyed_hash``
    Hex HMAC-SHA256 of the value under the project's hash key: the same value gives the same token in every run
    of the project, and nobody without the key can test a guess.
``pseudonym``
    A realistic fake of the same kind (name, phone, e-mail, city...), derived from an HMAC of the value under the
    project's pseudonym key, so the same value gets the same fake in every row and run. Dates move by an offset
    that is the same for every date of one subject (``subject`` in the context, e.g. a patient id) or of the
    whole dataset, so intervals are kept.
``encrypt``
    AES-256-GCM under the project's encryption key; the token ``ENC1.<base64url(nonce|ciphertext|tag)>`` is
    reversed by :func:`decrypt_token` / :func:`decrypt_text` (the de-anonymize action). Each encryption has a
    fresh nonce, so equal values give different tokens (no equality leak).
``generalize``
    Age to bands (``30-39``, ``90+``), ZIP code to a prefix (``021**``), date to month or year.

Operators never log values. Keyed operators raise :class:`OperatorError` when no keys are given.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from workbench.core.pii.operators.base import (
    OPERATORS,
    Operator,
    OperatorConfig,
    OperatorContext,
    OperatorError,
    OperatorSpec,
    ParamSpec,
    apply_operator,
    get_operator,
    needs_keys,
    operator_names,
    operator_specs,
    register_operator,
)
from workbench.core.pii.operators.dates import ParsedDate, parse_date
from workbench.core.pii.operators.tokens import (
    TOKEN_PREFIX,
    DecryptionError,
    contains_tokens,
    decrypt_text,
    decrypt_token,
    encrypt_value,
)

if TYPE_CHECKING:
    from workbench.core.pii.operators.encrypt import EncryptOperator
    from workbench.core.pii.operators.generalize import GeneralizeOperator
    from workbench.core.pii.operators.keep import KeepOperator
    from workbench.core.pii.operators.keyed_hash import KeyedHashOperator
    from workbench.core.pii.operators.mask import MaskOperator
    from workbench.core.pii.operators.pseudonym import PseudonymOperator, shift_for
    from workbench.core.pii.operators.redact import RedactOperator
    from workbench.core.pii.operators.replace import ReplaceOperator

# The built-in operators, in menu order; each module is imported the first time its operator is used.
_BUILTIN = (
    ("keep", "keep", "KeepOperator"),
    ("redact", "redact", "RedactOperator"),
    ("replace", "replace", "ReplaceOperator"),
    ("mask", "mask", "MaskOperator"),
    ("keyed_hash", "keyed_hash", "KeyedHashOperator"),
    ("encrypt", "encrypt", "EncryptOperator"),
    ("pseudonym", "pseudonym", "PseudonymOperator"),
    ("generalize", "generalize", "GeneralizeOperator"),
)
for _name, _module, _class in _BUILTIN:
    OPERATORS.register(_name, f"{__name__}.{_module}:{_class}")

# Names kept importable from this package without importing every operator module up front.
_LAZY = {_class: _module for _name, _module, _class in _BUILTIN} | {"shift_for": "pseudonym"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = [
    "OPERATORS",
    "TOKEN_PREFIX",
    "DecryptionError",
    "EncryptOperator",
    "GeneralizeOperator",
    "KeepOperator",
    "KeyedHashOperator",
    "MaskOperator",
    "Operator",
    "OperatorConfig",
    "OperatorContext",
    "OperatorError",
    "OperatorSpec",
    "ParamSpec",
    "ParsedDate",
    "PseudonymOperator",
    "RedactOperator",
    "ReplaceOperator",
    "apply_operator",
    "contains_tokens",
    "decrypt_text",
    "decrypt_token",
    "encrypt_value",
    "get_operator",
    "needs_keys",
    "operator_names",
    "operator_specs",
    "parse_date",
    "register_operator",
    "shift_for",
]
