"""Operators and keys: formats, consistency across rows and runs, reversibility, registry and validation."""

from __future__ import annotations

import subprocess
import sys
from datetime import date

import pytest

from workbench.core.pii.keys import AnonymizationKeyError, AnonymizationKeys
from workbench.core.pii.operators import (
    DecryptionError,
    OperatorConfig,
    OperatorContext,
    OperatorError,
    apply_operator,
    decrypt_text,
    decrypt_token,
    operator_names,
    operator_specs,
    parse_date,
    shift_for,
)

SECRET = bytes(range(32))


@pytest.fixture(scope="module")
def keys() -> AnonymizationKeys:
    return AnonymizationKeys.derive(SECRET)


def run(name: str, value: str, entity: str = "PERSON", keys: AnonymizationKeys | None = None, **params: object) -> str:
    return apply_operator(OperatorConfig.create(name, **params), value, OperatorContext(entity, keys))


# ---- keys ---------------------------------------------------------------------------------------------------


def test_keys_are_derived_deterministically_and_independently() -> None:
    a, b = AnonymizationKeys.derive(SECRET), AnonymizationKeys.derive(SECRET)
    assert a == b and a.key_id == b.key_id and len(a.key_id) == 16
    assert len({a.hmac_key, a.pseudonym_key, a.aes_key}) == 3
    assert all(len(k) == 32 for k in (a.hmac_key, a.pseudonym_key, a.aes_key))
    other = AnonymizationKeys.derive(bytes(32))
    assert other.hmac_key != a.hmac_key and other.key_id != a.key_id
    assert SECRET.hex() not in repr(a) and a.hmac_key.hex() not in repr(a)
    assert AnonymizationKeys.generate() != AnonymizationKeys.generate()


def test_short_master_secret_is_refused_with_advice() -> None:
    with pytest.raises(AnonymizationKeyError, match="at least 32 random bytes"):
        AnonymizationKeys.derive(b"short")
    with pytest.raises(AnonymizationKeyError, match="exactly 32 bytes"):
        AnonymizationKeys(b"x", b"y" * 32, b"z" * 32)


# ---- registry and validation ----------------------------------------------------------------------------------


def test_registry_lists_every_operator_for_menus() -> None:
    names = operator_names()
    assert names == ("keep", "redact", "replace", "mask", "keyed_hash", "encrypt", "pseudonym", "generalize")
    specs = {s.name: s for s in operator_specs()}
    assert specs["encrypt"].reversible and specs["encrypt"].needs_keys and not specs["encrypt"].deterministic
    assert not specs["mask"].needs_keys
    assert [p.name for p in specs["mask"].params] == ["masking_char", "chars_to_mask", "from_end", "skip_separators"]
    assert specs["generalize"].params[0].choices == ("auto", "age", "zip", "date")


def test_unknown_operator_and_bad_parameters_explain_themselves() -> None:
    with pytest.raises(OperatorError, match=r"unknown operator 'mask2'; choose one of: keep, redact, replace, mask"):
        OperatorConfig.create("mask2")
    with pytest.raises(OperatorError, match="operator 'mask' has no parameter 'char'; its parameters: masking_char"):
        OperatorConfig.create("mask", char="#")
    with pytest.raises(OperatorError, match="masking_char must be exactly one character"):
        OperatorConfig.create("mask", masking_char="##")
    with pytest.raises(OperatorError, match="chars_to_mask must be a whole number, not a string"):
        OperatorConfig.create("mask", chars_to_mask="4")
    with pytest.raises(OperatorError, match="from_end must be true or false"):
        OperatorConfig.create("mask", from_end=1)
    with pytest.raises(OperatorError, match="date_granularity must be one of: month, year"):
        OperatorConfig.create("generalize", date_granularity="week")
    with pytest.raises(OperatorError, match="length must be at least 8"):
        OperatorConfig.create("keyed_hash", length=4)


def test_operator_config_round_trips_through_json() -> None:
    config = OperatorConfig.create("mask", chars_to_mask=4, from_end=True)
    assert config.to_json() == {"operator": "mask", "chars_to_mask": 4, "from_end": True}
    assert OperatorConfig.from_json(config.to_json()) == config
    assert OperatorConfig.from_json("redact") == OperatorConfig.create("redact")
    assert config.describe() == "mask(chars_to_mask=4, from_end=true)"
    assert hash(config) == hash(OperatorConfig.create("mask", from_end=True, chars_to_mask=4))


def test_keyed_operators_without_keys_fail_clearly() -> None:
    for name in ("keyed_hash", "pseudonym", "encrypt"):
        with pytest.raises(OperatorError, match="needs the project's keys"):
            run(name, "Anna Berg")


# ---- simple operators -------------------------------------------------------------------------------------------


def test_keep_redact_replace() -> None:
    assert run("keep", "Anna") == "Anna"
    assert run("redact", "Anna") == ""
    assert run("replace", "Anna") == "<PERSON>"
    assert run("replace", "555-1234", "PHONE_NUMBER") == "<PHONE_NUMBER>"
    assert run("replace", "Anna", new_value="[name]") == "[name]"


def test_mask_formats() -> None:
    phone = "555-123-4567"
    assert run("mask", phone) == "*" * 12
    assert run("mask", phone, chars_to_mask=4, from_end=True) == "555-123-****"
    assert run("mask", phone, chars_to_mask=3) == "***-123-4567"
    assert run("mask", phone, masking_char="#", chars_to_mask=6, skip_separators=True) == "###-###-4567"
    assert run("mask", phone, chars_to_mask=5, from_end=True, skip_separators=True) == "555-12*-****"
    assert run("mask", "ab", chars_to_mask=10) == "**"
    assert run("mask", "abc", chars_to_mask=0) == "abc"


def test_generalize_formats() -> None:
    assert run("generalize", "34", "AGE") == "30-39"
    assert run("generalize", "7", "AGE", age_band=5) == "5-9"
    assert run("generalize", "95", "AGE") == "90+"
    assert run("generalize", "02134", "ZIP_CODE") == "021**"
    assert run("generalize", "02134-1234", "ZIP_CODE", zip_digits=2) == "02***-****"
    assert run("generalize", "2024-03-14", "DATE_TIME") == "2024-03"
    assert run("generalize", "March 14, 2024", "DATE_TIME", date_granularity="year") == "2024"
    assert run("generalize", "14.03.2024", "DATE_TIME", kind="date") == "2024-03"
    assert run("generalize", "last Tuesday", "DATE_TIME") == "<DATE_TIME>"  # cannot be generalized: replaced
    assert run("generalize", "Anna", "PERSON") == "<PERSON>"


def test_parse_date_keeps_the_layout() -> None:
    for text in ("2024-03-14", "03/14/2024", "14.03.2024", "March 14, 2024", "14 March 2024", "Mar 14, 2024"):
        parsed = parse_date(text)
        assert parsed is not None and parsed.value == date(2024, 3, 14)
        assert parsed.format(parsed.value) == text
    assert parse_date("2024-02-30") is None and parse_date("soon") is None


# ---- keyed operators --------------------------------------------------------------------------------------------


def test_keyed_hash_is_consistent_and_keyed(keys: AnonymizationKeys) -> None:
    token = run("keyed_hash", "Anna Berg", keys=keys)
    assert len(token) == 16 and all(c in "0123456789abcdef" for c in token)
    assert run("keyed_hash", "Anna Berg", keys=AnonymizationKeys.derive(SECRET)) == token  # same project secret
    assert run("keyed_hash", "Anna Berg", keys=AnonymizationKeys.derive(bytes(32))) != token  # another project
    assert run("keyed_hash", "Anna Berh", keys=keys) != token
    assert len(run("keyed_hash", "x", keys=keys, length=64)) == 64


def test_encrypt_round_trips_and_detects_the_wrong_key(keys: AnonymizationKeys) -> None:
    a, b = run("encrypt", "Anna Berg", keys=keys), run("encrypt", "Anna Berg", keys=keys)
    assert a.startswith("ENC1.") and a != b  # fresh nonce: equal values do not give equal tokens
    assert decrypt_token(a, keys) == decrypt_token(b, keys) == "Anna Berg"
    text = f"Call {run('encrypt', 'Anna Berg', keys=keys)} at {run('encrypt', '555-1234', 'PHONE_NUMBER', keys=keys)}."
    assert decrypt_text(text, keys) == "Call Anna Berg at 555-1234."
    assert decrypt_token(run("encrypt", "Zoë 北京", keys=keys), keys) == "Zoë 北京"
    with pytest.raises(DecryptionError, match="another project's key or was altered"):
        decrypt_token(a, AnonymizationKeys.derive(bytes(32)))
    tampered = a[:-2] + ("A" if a[-2] != "A" else "B") + a[-1]
    with pytest.raises(DecryptionError):
        decrypt_token(tampered, keys)
    with pytest.raises(DecryptionError, match="not an encryption token"):
        decrypt_token("hello", keys)


def test_pseudonyms_are_consistent_realistic_and_keyed(keys: AnonymizationKeys) -> None:
    full = run("pseudonym", "Anna Berg", keys=keys)
    assert full == run("pseudonym", "Anna Berg", keys=AnonymizationKeys.derive(SECRET))
    assert full != "Anna Berg" and len(full.split()) == 2 and full.replace(" ", "").isalpha()
    # each word maps on its own: the first name alone gets the same fake first name
    assert run("pseudonym", "Anna", keys=keys) == full.split()[0]
    assert run("pseudonym", "Anna Berg", keys=AnonymizationKeys.derive(bytes(32))) != full
    email = run("pseudonym", "anna.berg@hospital.org", "EMAIL_ADDRESS", keys=keys)
    assert "@" in email and email.split("@")[1] in ("example.com", "example.org", "example.net")
    phone = run("pseudonym", "(555) 123-4567", "PHONE_NUMBER", keys=keys)
    assert phone != "(555) 123-4567" and phone[0] == "(" and phone[4:6] == ") " and phone[9] == "-"
    assert run("pseudonym", "(555) 123-4567", "PHONE_NUMBER", keys=keys) == phone
    from workbench.core.pii.recognizers.checksums import luhn_valid

    card = run("pseudonym", "4111 1111 1111 1111", "CREDIT_CARD", keys=keys)
    assert luhn_valid(card.replace(" ", "")) and card != "4111 1111 1111 1111"


def test_dates_shift_by_one_offset_per_subject(keys: AnonymizationKeys) -> None:
    config = OperatorConfig.create("pseudonym")

    def shifted(value: str, subject: str | None) -> str:
        return apply_operator(config, value, OperatorContext("DATE_TIME", keys, subject))

    a1, a2 = shifted("2024-03-14", "patient-1"), shifted("2024-04-01", "patient-1")
    d1, d2 = date.fromisoformat(a1), date.fromisoformat(a2)
    assert (d2 - d1).days == 18  # the interval is kept
    offset = shift_for(keys, "patient-1")
    assert d1 - date(2024, 3, 14) == offset and 1 <= abs(offset.days) <= 180
    assert shifted("March 14, 2024", "patient-1") == f"{d1:%B} {d1.day}, {d1.year}"  # same layout
    assert shift_for(keys, "patient-2") != offset or shift_for(keys, "patient-3") != offset
    assert shifted("not a date", None) == "<DATE_TIME>"


def test_pseudonyms_are_stable_across_processes() -> None:
    code = (
        "from workbench.core.pii.keys import AnonymizationKeys as K\n"
        "from workbench.core.pii.operators import OperatorConfig as C, OperatorContext as X, apply_operator as a\n"
        "k = K.derive(bytes(range(32)))\n"
        "print(a(C.create('pseudonym'), 'Anna Berg', X('PERSON', k)),\n"
        "      a(C.create('keyed_hash'), 'Anna', X('PERSON', k)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60).stdout
    keys = AnonymizationKeys.derive(SECRET)
    assert out.split() == [*run("pseudonym", "Anna Berg", keys=keys).split(), run("keyed_hash", "Anna", keys=keys)]
