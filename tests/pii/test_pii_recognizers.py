"""The workbench recognizers: check digits (valid and invalid), and the detector improvements on real sentences."""

from __future__ import annotations

import random
from datetime import date

from workbench.core.pii.analyzer import AnalyzerHandle
from workbench.core.pii.postprocess import DetectionSettings, resolve_spans
from workbench.core.pii.recognizers import (
    BankCardRecognizer,
    CnMobileRecognizer,
    CnResidentIdRecognizer,
    HonorificRecognizer,
    StreetAddressRecognizer,
)
from workbench.core.pii.recognizers.checksums import cn_resident_id_valid, luhn_check_digit, luhn_valid

_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def make_cn_id(region: str, born: date, sequence: int) -> str:
    """An 18-character resident id with its ISO 7064 MOD 11-2 check character, computed here independently."""
    first17 = f"{region}{born:%Y%m%d}{sequence:03d}"
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return first17 + "10X98765432"[total % 11]


def found(recognizer: object, text: str) -> list[tuple[str, float]]:
    results = recognizer.analyze(text, entities=[])  # type: ignore[attr-defined]
    return [(text[r.start : r.end], r.score) for r in results]


def test_cn_resident_id_check_digit_and_birth_date() -> None:
    rng = random.Random(7)
    for _ in range(50):
        born = date(1930, 1, 1).fromordinal(date(1930, 1, 1).toordinal() + rng.randrange(30000))
        number = make_cn_id(rng.choice(["110105", "310104", "440305", "510107"]), born, rng.randrange(1000))
        assert cn_resident_id_valid(number), number
        wrong = number[:17] + ("0" if number[17] != "0" else "1")
        assert not cn_resident_id_valid(wrong)
    assert make_cn_id("110105", date(1949, 12, 31), 2) == "11010519491231002X"  # the GB 11643 example
    recognizer = CnResidentIdRecognizer()
    valid = make_cn_id("110105", date(1990, 7, 1), 123)
    assert found(recognizer, f"身份证 {valid} 已登记") == [(valid, 1.0)]
    bad_check = valid[:17] + str((int(valid[17]) + 1) % 10 if valid[17] != "X" else 0)
    assert found(recognizer, f"id {bad_check}") == []
    bad_date = make_cn_id("110105", date(1990, 7, 1), 123)[:10] + "0231" + "123"  # 31 February
    bad_date += "10X98765432"[sum(int(d) * w for d, w in zip(bad_date, _WEIGHTS, strict=True)) % 11]
    assert not cn_resident_id_valid(bad_date) and found(recognizer, bad_date) == []
    future = make_cn_id("110105", date(date.today().year + 1, 1, 1), 1)
    assert found(recognizer, future) == []
    assert found(recognizer, "99" + valid[2:]) == []  # no province 99


def test_cn_mobile_numbers() -> None:
    recognizer = CnMobileRecognizer()
    assert found(recognizer, "手机 13812345678") == [("13812345678", 0.4)]
    assert found(recognizer, "call +86 138 1234 5678 now") == [("+86 138 1234 5678", 0.7)]
    assert found(recognizer, "tel 0086-159-1234-5678") == [("0086-159-1234-5678", 0.7)]
    assert found(recognizer, "12812345678") == []  # 12x is no mobile prefix
    assert found(recognizer, "14012345678") == []  # data-only range
    assert found(recognizer, "138123456789") == []  # 12 digits


def test_bank_card_numbers_need_a_valid_luhn_check() -> None:
    recognizer = BankCardRecognizer()
    payload = "621700012345678"  # UnionPay, 15 digits + check digit = 16
    card = payload + luhn_check_digit(payload)
    assert luhn_valid(card)
    assert found(recognizer, f"卡号 {card}") == [(card, 1.0)]
    grouped = " ".join(card[i : i + 4] for i in range(0, 16, 4))
    assert found(recognizer, f"card {grouped}.") == [(grouped, 1.0)]
    broken = card[:-1] + str((int(card[-1]) + 1) % 10)
    assert found(recognizer, broken) == []
    visa = "4111111111111111"  # Luhn-valid, but a Visa number: Presidio's CREDIT_CARD reports it
    assert luhn_valid(visa) and found(recognizer, visa) == []
    payload19 = "622848001234567890"
    card19 = payload19 + luhn_check_digit(payload19)
    assert found(recognizer, card19) == [(card19, 1.0)]


def test_honorifics_and_addresses() -> None:
    assert found(HonorificRecognizer(), "Hello, this is Dr. Kyle Kuefer.") == [("Dr.", 0.6)]
    assert found(HonorificRecognizer(), "the mr. below") == []
    addresses = StreetAddressRecognizer()
    for text, expected in [
        ("He lives at 742 Evergreen Terrace now.", "742 Evergreen Terrace"),
        ("Send it to 1072 Pohlstrasse 9, Berlin.", "1072 Pohlstrasse 9"),
        ("Kiannonkatu 98\n Suite 464", "Kiannonkatu 98"),
        ("Office: Suite 464", "Suite 464"),
        ("Write to P.O. Box 242.", "P.O. Box 242"),
        ("We meet at 56 rue La Boétie today", "56 rue La Boétie"),
    ]:
        assert expected in [t for t, _ in found(addresses, text)], text
    assert found(addresses, "We walked 3 miles down the road.") == []


def test_the_analyzer_runs_every_workbench_recognizer(analyzer: AnalyzerHandle) -> None:
    card_payload = "621700012345678"
    card = card_payload + luhn_check_digit(card_payload)
    cn_id = make_cn_id("440305", date(1985, 5, 17), 42)
    text = (
        f"Patient Eszter P Kovács (ID {cn_id}) lives at 3178 Koskikatu 25 in Oulu. Mobile 13912345678, "
        f"bank card {card}. Mr. Rednjak, aged 61, works for Loveland Technologies."
    )
    spans = resolve_spans(text, analyzer.analyze_raw([text])[0], DetectionSettings())
    got = {(text[s.start : s.end], s.entity_type) for s in spans}
    for expected in [
        ("Eszter P Kovács", "PERSON"),
        (cn_id, "CN_RESIDENT_ID"),
        ("13912345678", "CN_MOBILE"),
        (card, "BANK_CARD"),
        ("Mr.", "TITLE"),
        ("Rednjak", "PERSON"),
        ("61", "AGE"),
        ("Loveland Technologies", "ORGANIZATION"),
    ]:
        assert expected in got, (expected, sorted(got))
    assert any(etype == "STREET_ADDRESS" and "Koskikatu 25" in value for value, etype in got)
    assert {"CN_RESIDENT_ID", "CN_MOBILE", "BANK_CARD", "STREET_ADDRESS", "TITLE"} <= set(analyzer.supported_entities)


def test_names_from_the_name_lists_override_spacy_mislabels(analyzer: AnalyzerHandle) -> None:
    texts = ["Sunniva is very reliable.", "I want to add Tünde Hoffmann as a beneficiary.", "Will you come today?"]
    raw = analyzer.analyze_raw(texts)
    spans = [resolve_spans(t, r, DetectionSettings()) for t, r in zip(texts, raw, strict=True)]
    assert [(texts[0][s.start : s.end], s.entity_type) for s in spans[0]] == [("Sunniva", "PERSON")]
    assert ("Tünde Hoffmann", "PERSON") in [(texts[1][s.start : s.end], s.entity_type) for s in spans[1]]
    assert not any(s.entity_type == "PERSON" for s in spans[2])  # "Will" is a verb here
