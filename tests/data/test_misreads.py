"""Files read wrong without a word (issue 12): a first row that is data, an unclosed quote, mixed encodings.

Each misread is refused with a :class:`MisreadError` whose message names lines, byte offsets and counts but no
value of the file; the analyst's explicit choice (``header``, ``accept_unclosed_quote``, ``encoding``) loads it.
Headers that do look like headers (the demo data, the evaluation files in ../shared/eval) raise no alarm.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from workbench.core.data import misreads
from workbench.core.data.dataset import LoadOptions
from workbench.core.data.load import load_dataset, load_dataset_bytes_job
from workbench.core.data.misreads import (
    ENCODING,
    HEADER,
    UNCLOSED_QUOTE,
    MisreadError,
    find_unclosed_quote,
    first_row_looks_like_data,
    sample_records,
)
from workbench.core.demo import write_clinic_intake_csv
from workbench.core.errors import DatasetError
from workbench.core.jobs import drive

CANARY = "CANARY-7d1e"
EVAL = Path(__file__).resolve().parents[3] / "shared" / "eval"


def write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def misread(path: Path, options: LoadOptions | None = None) -> MisreadError:
    with pytest.raises(MisreadError) as info:
        load_dataset(path, options or LoadOptions())
    return info.value


def records(text: str, delimiter: str = ",") -> list[list[str]]:
    return sample_records(text, delimiter)


# --- 1. a first row that is data --------------------------------------------------------------------------------

HEADERLESS = f"1,{CANARY},34,2021-03-04\n2,Bob,51,2020-11-30\n3,Carol,28,2019-01-15\n4,Dan,40,2018-06-01\n"


def test_headerless_csv_is_refused_without_quoting_the_row(tmp_path: Path) -> None:
    err = misread(write(tmp_path / "people.csv", HEADERLESS))
    assert err.kind == HEADER
    assert "first row looks like data" in err.problem
    assert "--header" in err.problem and "--no-header" in err.problem
    assert "columns 1, 3, 4" in err.problem  # the evidence: numbers/dates above numbers/dates
    assert CANARY not in str(err) and "34" not in err.problem and "2021" not in str(err)


def test_no_header_reads_the_first_row_as_data(tmp_path: Path) -> None:
    ds = load_dataset(write(tmp_path / "people.csv", HEADERLESS), LoadOptions(header=False))
    assert ds.column_names == ["column_1", "column_2", "column_3", "column_4"]
    assert ds.num_rows == 4
    assert ds.table.column("column_2").to_pylist()[0] == CANARY
    assert ds.warnings == ()


def test_header_forced_keeps_the_names_and_says_they_are_values(tmp_path: Path) -> None:
    ds = load_dataset(write(tmp_path / "people.csv", HEADERLESS), LoadOptions(header=True))
    assert ds.num_rows == 3 and ds.column_names[1] == CANARY
    assert any("looks like data but was used as column names" in w for w in ds.warnings)


def test_headerless_tsv_is_refused_too(tmp_path: Path) -> None:
    err = misread(write(tmp_path / "p.tsv", HEADERLESS.replace(",", "\t")))
    assert err.kind == HEADER
    ds = load_dataset(tmp_path / "p.tsv", LoadOptions(header=False))
    assert ds.num_rows == 4 and ds.delimiter == "\t"


def test_a_first_row_value_repeated_below_is_data(tmp_path: Path) -> None:
    text = "Bachelors;Undergraduate;*\nMasters;Graduate;*\nSome-college;Undergraduate;*\nDoctorate;Graduate;*\n"
    err = misread(write(tmp_path / "h.csv", text))
    assert err.kind == HEADER and "column 2" in err.problem and "Undergraduate" not in err.problem


def test_header_check_reads_only_the_head_of_an_in_memory_file() -> None:
    with pytest.raises(MisreadError) as info:
        drive(load_dataset_bytes_job(HEADERLESS.encode(), "people.csv"))
    assert info.value.kind == HEADER
    ds = drive(load_dataset_bytes_job(HEADERLESS.encode(), "people.csv", LoadOptions(header=False)))
    assert ds.num_rows == 4


@pytest.mark.parametrize(
    "text",
    [
        "age,zip_code,name\n34,12345,Ann\n51,23456,Bob\n28,34567,Cy\n",
        "country,2019,2020,2021\nFrance,1.5,2.5,3.5\nSpain,4.5,5.5,6.5\nItaly,7,8,9\n",  # years as labels
        "region,1,2,3\nnorth,10,20,30\nsouth,40,50,60\neast,70,80,90\n",  # column numbers as labels
        "2019\nalpha\nbeta\ngamma\n",  # a year above text
        "id,date,score\nA1,2021-01-01,3\nA2,2021-01-02,4\nA3,2021-01-03,5\n",
        "name,city\nAnn,Paris\nBob,Rome\nCy,Oslo\n",  # text above text: no evidence either way
        "a,b\n1,2\n",  # too few rows to judge
        "x,y\n1,2\n3,4\nNA,5\n",
        "status,count\nstatus_a,1\nstatus_b,2\nstatus_c,3\n",
        "birth_year,n\n1980,1\n1990,2\n2000,3\n",
        "name,age\nAnn,34\nBob,51\nname,age\nCy,28\nDan,40\n",  # two files concatenated with their headers
    ],
)
def test_headers_that_look_like_headers_raise_no_alarm(tmp_path: Path, text: str) -> None:
    assert first_row_looks_like_data(records(text)) is None
    load_dataset(write(tmp_path / "ok.csv", text))


@pytest.mark.parametrize(
    ("text", "columns"),
    [
        ("1980,1\n1990,2\n2000,3\n", (1, 2)),  # years above years are data
        ("3.5,x\n4.25,y\n5.0,z\n", (1,)),
        ("2021-01-01,a\n2021-01-02,b\n2021-01-03,c\n", (1,)),
    ],
)
def test_rows_that_are_data(text: str, columns: tuple[int, ...]) -> None:
    verdict = first_row_looks_like_data(records(text))
    assert verdict is not None and verdict.same_type == columns


@pytest.mark.parametrize(("rows", "seed"), [(3, 1), (20, 2), (200, 3), (5000, 20260101)])
def test_demo_data_raises_no_alarm(tmp_path: Path, rows: int, seed: int) -> None:
    path = write_clinic_intake_csv(tmp_path / "demo.csv", rows=rows, seed=seed)
    ds = load_dataset(path)
    assert ds.num_rows == rows and ds.column_names[0] == "record_id"


def _eval_file(name: str) -> Path:
    path = EVAL / name
    if not path.is_file():
        pytest.skip(f"evaluation data not found: {path} (../shared/eval is not part of the project)")
    return path


@pytest.mark.parametrize("name", ["adult_arx/adult.csv", "adult_arx/adult_subset.csv"])
def test_eval_tables_with_a_header_raise_no_alarm(name: str) -> None:
    ds = load_dataset(_eval_file(name))
    assert ds.column_names[:2] == ["sex", "age"]


@pytest.mark.parametrize("name", ["wnut17/wnut17train.conll", "wnut17/emerging.dev.conll"])
def test_eval_tab_separated_files_raise_no_alarm(name: str) -> None:
    load_dataset(_eval_file(name), LoadOptions(format="tsv"))


@pytest.mark.parametrize(
    "name",
    [
        "adult_arx/adult_hierarchy_age.csv",
        "adult_arx/adult_hierarchy_education.csv",
        "adult_arx/adult_hierarchy_occupation.csv",
    ],
)
def test_eval_hierarchies_have_no_header_and_are_flagged(name: str) -> None:
    """ARX's hierarchy files are headerless (column 0 = value, column i = level i): flagging them is right."""
    path = _eval_file(name)
    assert misread(path).kind == HEADER
    ds = load_dataset(path, LoadOptions(header=False))
    assert ds.column_names[0] == "column_1"


# --- 2. an unclosed quote ---------------------------------------------------------------------------------------


def test_unclosed_quote_in_the_last_column_is_refused_with_its_line(tmp_path: Path) -> None:
    text = f'id,name,note\n1,Ann,ok\n2,Bob,"{CANARY}\n3,Cy,x\n4,Dan,y\n5,Eve,z\n'
    err = misread(write(tmp_path / "q.csv", text))
    assert err.kind == UNCLOSED_QUOTE
    assert "a quote opened on line 3 (byte 28) is never closed" in err.problem
    assert "(3 more lines)" in err.problem and "--accept-unclosed-quote" in err.problem
    assert CANARY not in str(err)


def test_accepted_unclosed_quote_loads_with_a_warning(tmp_path: Path) -> None:
    text = 'id,name,note\n1,Ann,ok\n2,Bob,"open\n3,Cy,x\n'
    ds = load_dataset(write(tmp_path / "q.csv", text), LoadOptions(accept_unclosed_quote=True))
    assert ds.num_rows == 2
    assert any("line 3" in w and "as accepted" in w for w in ds.warnings)


def test_unclosed_quote_that_leaves_a_row_short_names_the_quote(tmp_path: Path) -> None:
    text = 'id,name,age\n1,Ann,34\n2,"Bob,51\n3,Cy,28\n4,Dan,40\n'
    err = misread(write(tmp_path / "q.csv", text))
    assert err.kind == UNCLOSED_QUOTE and "line 3" in err.problem and "fix the quote" in err.problem


def test_unclosed_quote_in_the_header_is_refused(tmp_path: Path) -> None:
    err = misread(write(tmp_path / "q.csv", 'id,"name\n1,Ann\n2,Bob\n'))
    assert err.kind == UNCLOSED_QUOTE and "line 1" in err.problem


def test_closed_multiline_values_at_the_end_raise_no_alarm(tmp_path: Path) -> None:
    text = 'id,note\n1,"two\nlines"\n2,"say ""hi""\nand go"\n'
    ds = load_dataset(write(tmp_path / "ok.csv", text))
    assert ds.num_rows == 2 and ds.warnings == ()


def test_quote_scanner_across_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(misreads, "SCAN_CHUNK", 7)
    body = b'a,b\n1,"x""""y"\n2,ab"c\n3,"\n4,5\n'  # escaped quotes, a quote inside a bare value, then an open one
    for start in range(1, 8):
        monkeypatch.setattr(misreads, "SCAN_CHUNK", start)
        found = find_unclosed_quote(io.BytesIO(body), ",")
        assert found is not None and (found.line, found.offset, found.lines_after) == (4, 24, 1)
    assert find_unclosed_quote(io.BytesIO(b'a,b\n1,"x""y"\n"q",2\n'), ",") is None


# --- 3. mixed encodings -----------------------------------------------------------------------------------------


def test_utf8_mixed_with_latin1_is_refused_with_offsets(tmp_path: Path) -> None:
    data = "name,city\nJosé,Zürich\n".encode() + "Renée,Genève\n".encode("latin-1")
    err = misread(write(tmp_path / "m.csv", data))
    assert err.kind == ENCODING
    assert "2 byte sequences (at byte offsets 13, 17) are UTF-8" in err.problem
    assert "2 bytes (at byte offsets 27, 33) are not UTF-8" in err.problem
    assert "--encoding" in err.problem and "Jos" not in err.problem


def test_explicit_encoding_is_the_analysts_choice(tmp_path: Path) -> None:
    data = "name,city\nJosé,Zürich\n".encode() + "Renée,Genève\n".encode("latin-1")
    path = write(tmp_path / "m.csv", data)
    ds = load_dataset(path, LoadOptions(encoding="latin-1"))
    assert ds.encoding == "latin-1" and ds.num_rows == 2
    err = misread(path, LoadOptions(encoding="utf-8"))  # the Latin-1 part does not fit: said, with offsets
    assert err.kind == ENCODING and "27" in err.problem


def test_lone_surrogates_are_refused_with_offsets(tmp_path: Path) -> None:
    data = b"name,n\nab\xed\xa0\x80cd,1\nx\x80y,2\nz,3\n"
    err = misread(write(tmp_path / "s.csv", data))
    assert err.kind == ENCODING
    assert "1 byte sequence (at byte offset 9) is a UTF-8-encoded surrogate" in err.problem
    assert load_dataset(tmp_path / "s.csv", LoadOptions(encoding="cp1252")).num_rows == 3


def test_utf8_head_with_latin1_later_names_both(tmp_path: Path) -> None:
    head = "name,city\n" + "José,Zürich\n" * 7000  # > 64 KiB of UTF-8 before the first Latin-1 byte
    data = head.encode() + "Renée,x\n".encode("latin-1")
    err = misread(write(tmp_path / "late.csv", data))
    assert err.kind == ENCODING
    assert f"1 byte (at byte offset {len(head.encode()) + 3}) is not UTF-8" in err.problem
    assert "14000 byte sequences" in err.problem


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        ("name,city\nMüller,Köln\nRenée,Genève\n".encode("latin-1"), "latin-1"),
        ("name,price\nA,5 €\nB,“7”\n".encode("cp1252"), "cp1252"),
        ("name,city\nMüller,Köln\n".encode(), "utf-8"),
    ],
)
def test_single_encoding_files_load_without_alarm(tmp_path: Path, data: bytes, encoding: str) -> None:
    ds = load_dataset(write(tmp_path / "one.csv", data))
    assert ds.encoding == encoding


def test_mixed_encodings_in_other_text_formats(tmp_path: Path) -> None:
    data = '{"a": "José"}\n'.encode() + '{"a": "Renée"}\n'.encode("latin-1")
    err = misread(write(tmp_path / "m.jsonl", data))
    assert err.kind == ENCODING


def test_encoding_scan_across_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = "a\nJosé ü € 😀\n".encode() + "é\n".encode("latin-1") + b"\xed\xa0\x80\n"
    path = write(tmp_path / "c.csv", data)
    for chunk in (1, 2, 3, 5, 1 << 20):
        monkeypatch.setattr(misreads, "SCAN_CHUNK", chunk)
        scan = misreads.scan_encoding(_Source(path))
        assert (scan.utf8.count, scan.not_utf8.count, scan.surrogates.count) == (4, 1, 1)
        assert scan.not_utf8.offsets == [len("a\nJosé ü € 😀\n".encode())]


class _Source:
    def __init__(self, path: Path) -> None:
        self.path = path

    def open_binary(self) -> io.BufferedReader:
        return open(self.path, "rb")  # noqa: SIM115 - closed by the scan's with-statement


def test_misread_errors_are_dataset_errors(tmp_path: Path) -> None:
    assert isinstance(misread(write(tmp_path / "p.csv", HEADERLESS)), DatasetError)


def test_the_scans_stop_when_cancelled(tmp_path: Path) -> None:
    from workbench.core.errors import JobCancelled
    from workbench.core.jobs import CancelToken

    token = CancelToken()
    token.cancel()
    path = write(tmp_path / "c.csv", "a\nJosé\n".encode() + "é\n".encode("latin-1"))
    with pytest.raises(JobCancelled):
        misreads.scan_encoding(_Source(path), token)
    with pytest.raises(JobCancelled):
        find_unclosed_quote(io.BytesIO(b'a\n"b\n'), ",", token)


@pytest.mark.parametrize(("name", "line"), [("late.jsonl", '{{"a": "{}"}}\n'), ("late.txt", "{}\n")])
def test_utf8_then_latin1_in_other_text_formats_offers_the_choice(tmp_path: Path, name: str, line: str) -> None:
    data = line.format("José").encode() * 8000 + line.format("Renée").encode("latin-1")
    err = misread(write(tmp_path / name, data))
    assert err.kind == ENCODING and "8000 byte sequences" in err.problem and "1 byte (at byte offset" in err.problem


def test_utf8_with_a_few_latin1_bytes_is_not_read_as_gb18030(tmp_path: Path) -> None:
    """The detector's byte pairing takes a mostly-UTF-8 head with a stray Latin-1 byte for GBK."""
    data = b"name\n" + "José Müller\n".encode() * 200 + "Renée\n".encode("latin-1")
    err = misread(write(tmp_path / "g.csv", data))
    assert err.kind == ENCODING and "Read as gb18030" in err.problem and "400 byte sequences" in err.problem


def test_chinese_gbk_text_raises_no_alarm(tmp_path: Path) -> None:
    rows = "\n".join(f"{'中华人民共和国的北京市长城饭店' * 3},{i}" for i in range(500))
    ds = load_dataset(write(tmp_path / "zh.csv", ("name,n\n" + rows + "\n").encode("gb18030")))
    assert ds.encoding == "gb18030" and ds.num_rows == 500


def test_values_spanning_very_many_lines_are_reported(tmp_path: Path) -> None:
    """A stray pair of quotes (here in a token list) joins the rows between them: loaded, but not silently."""
    lines = ["token\tlabel", '"\tO'] + [f"w{i}\tO" for i in range(150)] + ['"\tO', "end\tO"]
    ds = load_dataset(write(tmp_path / "tokens.tsv", "\n".join(lines) + "\n"))
    assert ds.num_rows < 150
    assert any("1 value spans more than 100 lines (the longest 152)" in w for w in ds.warnings)
    ok = load_dataset(write(tmp_path / "notes.csv", 'id,note\n1,"a\nfew\nlines"\n2,x\n'))
    assert ok.warnings == ()


@pytest.mark.parametrize("name", ["wnut17/wnut17train.conll"])
def test_eval_token_file_read_as_tsv_says_quotes_joined_rows(name: str) -> None:
    ds = load_dataset(_eval_file(name), LoadOptions(format="tsv"))
    assert any("more than 100 lines" in w for w in ds.warnings)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'a,b\n1,2\n3,"x', "a quote opened on line 3 (byte 10) is never closed; the rest of that last line"),
        (
            b'a,b\r\n1,2\r\n3,"x\r\n4,5\r\n',
            "a quote opened on line 3 (byte 12) is never closed; the rest of the file (1 more line)",
        ),
        (
            'a,b\n1,2\n3,"x\n4,5\n'.encode("utf-16"),
            "a quote opened on line 3 is never closed; the rest of the file (1 more",
        ),
    ],
)
def test_unclosed_quote_at_the_end_crlf_and_utf16(tmp_path: Path, data: bytes, expected: str) -> None:
    err = misread(write(tmp_path / "q.csv", data))
    assert err.kind == UNCLOSED_QUOTE and expected in err.problem
