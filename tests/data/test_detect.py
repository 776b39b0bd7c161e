"""Encoding, delimiter, binary and format sniffing (workbench.core.data.detect)."""

from __future__ import annotations

import codecs

import pytest

from workbench.core.data import detect

GERMAN_FRENCH = (
    "name,city\nJürgen Müller,Köln\nFrançoise Lefèvre,Besançon\nÉlodie Hélène,Orléans\nBjörn Weiß,Düsseldorf\n"
)
CHINESE = "姓名,城市,备注\n张伟,北京,患者情况稳定\n王芳,上海,需要复查\n李娜,广州,无特殊情况\n刘洋,深圳,已经出院\n"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"id,name\n1,Ann\n", "utf-8"),
        (GERMAN_FRENCH.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + GERMAN_FRENCH.encode("utf-8"), "utf-8-sig"),
        (GERMAN_FRENCH.encode("utf-16"), "utf-16"),  # native order with BOM (LE here)
        (codecs.BOM_UTF16_LE + GERMAN_FRENCH.encode("utf-16-le"), "utf-16"),
        (codecs.BOM_UTF16_BE + GERMAN_FRENCH.encode("utf-16-be"), "utf-16"),
        (GERMAN_FRENCH.encode("utf-16-le"), "utf-16-le"),
        (GERMAN_FRENCH.encode("utf-16-be"), "utf-16-be"),
        (CHINESE.encode("utf-16-le"), "utf-16-le"),
        (CHINESE.encode("utf-16-be"), "utf-16-be"),
        (codecs.BOM_UTF32_LE + GERMAN_FRENCH.encode("utf-32-le"), "utf-32"),
        (codecs.BOM_UTF32_BE + GERMAN_FRENCH.encode("utf-32-be"), "utf-32"),
        (CHINESE.encode("gb18030"), "gb18030"),
        (CHINESE.encode("gbk"), "gb18030"),
        (GERMAN_FRENCH.encode("latin-1"), "latin-1"),
        ("name,amount\nJosé,“5 €”\nRenée,10 €\n".encode("cp1252"), "cp1252"),
    ],
)
def test_detect_encoding(data: bytes, expected: str) -> None:
    assert detect.detect_encoding(data, complete=True) == expected
    assert detect.detect_encoding(data, complete=False) == expected


def test_latin1_name_that_is_also_valid_gbk_is_latin1() -> None:
    data = "Müller\n".encode("latin-1")
    data.decode("gbk")  # the trap: a strict GBK decode succeeds
    assert detect.detect_encoding(data, complete=True) == "latin-1"


def test_utf8_head_cut_inside_a_character_is_still_utf8() -> None:
    data = ("x" * 99 + "ü" * 10).encode("utf-8")
    head = data[:100]  # ends after the first byte of the two-byte "ü"
    assert head[-1] == 0xC3
    assert detect.detect_encoding(head, complete=False) == "utf-8"
    # the same bytes as a whole file end in a broken character: not UTF-8
    assert detect.detect_encoding(head, complete=True) == "latin-1"


def test_decode_sample_drops_bom_and_partial_last_line() -> None:
    head = codecs.BOM_UTF8 + b"a,b\n1,2\n3,"
    assert detect.decode_sample(head, "utf-8", complete=False) == "a,b\n1,2\n"
    assert detect.decode_sample(head, "utf-8-sig", complete=True) == "a,b\n1,2\n3,"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a,b,c\n1,2,3\n4,5,6\n", ","),
        ("a\tb\tc\n1\t2\t3\n", "\t"),
        ("a;b;c\n1;2;3\n", ";"),
        ("a|b|c\n1|2|3\n", "|"),
        # quote-aware: commas inside quoted fields do not count
        ('name;note\n"Smith, John";"a, b, c"\n"Doe, Jane";"d"\n', ";"),
        ('name,note\n"Smith; John","a; b; c"\n"Doe","x;y"\n', ","),
        # decimal commas in a semicolon file: semicolons are consistent, commas are not
        ("item;price;qty\napple;1,50;3\npear;2,25;10\nplum;3;1\n", ";"),
        # tab-separated with commas in the values
        ("name\taddress\nAnn\t1 Main St, Springfield\nBob\t2 High St, Leeds\n", "\t"),
        ("only_one_column\nvalue one\nvalue two\n", None),
        ("", None),
    ],
)
def test_detect_delimiter(text: str, expected: str | None) -> None:
    assert detect.detect_delimiter(text) == expected


def test_detect_delimiter_ignores_partial_last_record_of_cut_sample() -> None:
    sample = "a,b,c\n" + "1,2,3\n" * 20 + "4,5"
    assert detect.detect_delimiter(sample, complete=False) == ","


@pytest.mark.parametrize(
    ("head", "needle"),
    [
        (b"PK\x03\x04\x14\x00\x06\x00rest", "ZIP archive or an Excel workbook"),
        (b"%PDF-1.7\n%\xe2\xe3", "PDF document"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "PNG image"),
        (b"\x1f\x8b\x08\x00\x00", "gzip-compressed"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00", "old Excel workbook"),
        (b"SQLite format 3\x00\x10\x00", "SQLite database"),
        (b"BZh91AY&SY\x00", "bzip2-compressed"),
    ],
)
def test_magic_numbers_are_explained(head: bytes, needle: str) -> None:
    problem = detect.binary_problem(head, "utf-8")
    assert problem is not None and needle in problem


def test_text_starting_like_a_magic_number_is_not_binary() -> None:
    assert detect.binary_problem(b"BZh_code,ORC_id\n1,2\n", "utf-8") is None
    assert detect.binary_problem(b"%PDF_version,x\n1,2\n", "utf-8") is None


def test_nul_bytes_are_binary_unless_utf16() -> None:
    data = b"id,name\n1,\x00\x00\x00\x07abc\n"
    problem = detect.binary_problem(data, "utf-8")
    assert problem is not None and "NUL bytes" in problem
    utf16 = "id,name\n1,Ann\n".encode("utf-16-le")
    assert detect.binary_problem(utf16, "utf-16-le") is None


def test_many_control_characters_are_binary() -> None:
    data = bytes(range(1, 9)) * 50 + b"abc"
    problem = detect.binary_problem(data, "latin-1")
    assert problem is not None and "control characters" in problem


def test_parquet_magic_is_a_format_not_a_problem() -> None:
    assert detect.magic_format(b"PAR1\x15\x04") == "parquet"
    assert detect.magic_format(b"id,name\n") is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("UTF8", "utf-8"),
        ("utf_8_sig", "utf-8-sig"),
        ("latin1", "latin-1"),
        ("GBK", "gbk"),
        ("cp1252", "cp1252"),
    ],
)
def test_normalize_encoding(name: str, expected: str) -> None:
    assert detect.normalize_encoding(name) == expected


def test_normalize_encoding_unknown() -> None:
    with pytest.raises(LookupError):
        detect.normalize_encoding("no-such-codec")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("tab", "\t"), ("\\t", "\t"), ("\t", "\t"), (";", ";"), ("semicolon", ";"), ("|", "|")],
)
def test_normalize_delimiter(text: str, expected: str) -> None:
    assert detect.normalize_delimiter(text) == expected


@pytest.mark.parametrize("bad", ["ab", '"', "\n"])
def test_normalize_delimiter_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match="one character"):
        detect.normalize_delimiter(bad)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'{"a": 1}\n{"a": 2}\n', "jsonl"),
        (b'[{"a": 1}, {"a": 2}]', "jsonl"),
        (b"a;b\n1;2\n3;4\n", "csv"),
        (b"Dear team,\nplease find attached.\nRegards\n", "text"),
    ],
)
def test_sniff_text_format(data: bytes, expected: str) -> None:
    assert detect.sniff_text_format(data, complete=True) == expected
