"""Sniffing a data file from its first bytes: binary magic numbers, text encoding, CSV delimiter, format.

Everything here works on a *head*: the first :data:`HEAD_BYTES` bytes of a file (or fewer for a small file).
The functions are pure and fast, import nothing heavy, and never log what they see: a head holds dataset
values.

Encoding detection, in order:

1. A byte-order mark: UTF-32 (LE/BE), UTF-8 (``utf-8-sig``), UTF-16 (LE/BE).
2. UTF-16 without a BOM, recognised by its NUL bytes sitting on one parity only (ASCII in UTF-16LE puts a NUL
   after every character).
3. Strict UTF-8 through an *incremental* decoder, so a head that ends in the middle of a multi-byte character
   is not mistaken for broken UTF-8.
4. Otherwise a legacy 8-bit or double-byte encoding. Latin-1 decodes every byte string and GB18030 decodes
   most Latin-1 text too ("Müller" is valid GBK), so a strict decode decides nothing. Instead we look at how
   bytes >= 0x80 are arranged: in GBK/GB18030 Chinese text they come in pairs (a lead byte 0x81-0xFE followed
   by a trail byte, nearly always >= 0xA1), while in Latin-1 text they are mostly isolated between ASCII
   letters. Latin-1 text that uses bytes 0x80-0x9F (C1 controls in Latin-1, punctuation such as the euro sign
   or curly quotes in Windows-1252) is reported as ``cp1252``.
"""

from __future__ import annotations

import codecs
import csv
import io
import json

HEAD_BYTES = 64 * 1024
"""How many bytes of a file the sniffers look at."""

DELIMITER_CANDIDATES = (",", "\t", ";", "|")
"""Delimiters that :func:`detect_delimiter` chooses from, in order of preference on a tie."""

_DELIMITER_NAMES = {
    "tab": "\t",
    "\\t": "\t",
    "comma": ",",
    "semicolon": ";",
    "pipe": "|",
    "space": " ",
}

# (magic prefix, problem sentence). Checked against the very start of the file; PAR1 (Parquet) is a format,
# not a problem, and is handled by :func:`magic_format`.
_MAGIC_PROBLEMS: tuple[tuple[bytes, str], ...] = (
    (
        b"PK\x03\x04",
        "this looks like a ZIP archive or an Excel workbook (.xlsx); export the sheet as CSV and load that",
    ),
    (b"PK\x05\x06", "this looks like an (empty) ZIP archive, not a data file"),
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "this looks like an old Excel workbook (.xls) or another Office document; export it as CSV and load that",
    ),
    (b"%PDF-", "this looks like a PDF document, not a data file; export the table it contains as CSV"),
    (b"\x89PNG\r\n\x1a\n", "this looks like a PNG image, not a data file"),
    (b"\xff\xd8\xff", "this looks like a JPEG image, not a data file"),
    (b"GIF87a", "this looks like a GIF image, not a data file"),
    (b"GIF89a", "this looks like a GIF image, not a data file"),
    (b"\x1f\x8b", "this looks like a gzip-compressed file; decompress it first, then load the file inside"),
    (
        b"\xfd7zXZ\x00",
        "this looks like an xz-compressed file; decompress it first, then load the file inside",
    ),
    (b"(\xb5/\xfd", "this looks like a zstd-compressed file; decompress it first, then load the file inside"),
    (b"7z\xbc\xaf\x27\x1c", "this looks like a 7-Zip archive; extract it first, then load the file inside"),
    (b"Rar!\x1a\x07", "this looks like a RAR archive; extract it first, then load the file inside"),
    (b"SQLite format 3\x00", "this looks like an SQLite database; export a table as CSV and load that"),
    (
        b"ARROW1",
        "this looks like an Arrow IPC file, which is not supported yet; convert it to Parquet or CSV",
    ),
    (b"\x7fELF", "this looks like a program (ELF executable), not a data file"),
    (b"MZ\x90\x00", "this looks like a Windows program, not a data file"),
)

# Control bytes that plain text may contain: tab, LF, VT, FF, CR, and ESC (terminal colour codes in logs).
_TEXT_CONTROLS = frozenset(b"\t\n\x0b\x0c\r\x1b")


def normalize_encoding(name: str) -> str:
    """Return the canonical codec name (``"UTF8"`` -> ``"utf-8"``); raise LookupError if it is unknown."""
    canonical = codecs.lookup(name.strip()).name
    # codecs calls Latin-1 "iso8859-1"; analysts know it as latin-1
    return "latin-1" if canonical == "iso8859-1" else canonical


def normalize_delimiter(text: str) -> str:
    """A delimiter from one character or a word (``"tab"``, ``"\\t"``, ``"semicolon"``); else ValueError."""
    key = text.strip().lower() if len(text) > 1 else text
    value = _DELIMITER_NAMES.get(key, text)
    if len(value) != 1 or value in '\r\n"':
        raise ValueError("a delimiter must be one character other than a quote or a line break, or 'tab'")
    return value


def magic_format(head: bytes) -> str | None:
    """Name the binary data format the head starts with, if it is one we can load (only Parquet for now)."""
    return "parquet" if head.startswith(b"PAR1") else None


def magic_problem(head: bytes) -> str | None:
    """Return a one-sentence problem if ``head`` starts with the magic number of a known non-text format."""
    for magic, problem in _MAGIC_PROBLEMS:
        if head.startswith(magic):
            return problem
    # bzip2's "BZh" could start a CSV header, so also require the block size digit and the block magic
    if head[:3] == b"BZh" and head[3:4].isdigit() and head[4:10] == b"\x31\x41\x59\x26\x53\x59":
        return "this looks like a bzip2-compressed file; decompress it first, then load the file inside"
    if head.startswith(b"PAR1"):
        return "this is a Parquet file; load it as Parquet"
    return None


def binary_problem(head: bytes, encoding: str | None = None) -> str | None:
    """Return a problem sentence if ``head`` is not text in ``encoding``, else ``None``.

    Parameters
    ----------
    head:
        The first bytes of the file.
    encoding:
        The detected or chosen encoding. NUL bytes are expected in UTF-16 and UTF-32 and are not held against
        them.
    """
    problem = magic_problem(head)
    if problem is not None:
        return problem
    if not head:
        return None
    wide = encoding is not None and normalize_encoding(encoding).startswith(("utf-16", "utf-32"))
    if not wide and b"\x00" in head:
        return (
            "this looks like a binary file (it contains NUL bytes), not text; "
            "if it is UTF-16 or UTF-32 text, choose that encoding"
        )
    if wide:
        text = head.decode(encoding or "utf-16", errors="replace")
        if _control_count(text) > max(8, len(text) // 100):
            return "this looks like a binary file (it contains many control characters), not text"
        return None
    controls = sum(1 for b in head if b < 0x20 and b not in _TEXT_CONTROLS)
    if controls > max(8, len(head) // 100):
        return "this looks like a binary file (it contains many control characters), not text"
    return None


def _bom_encoding(head: bytes) -> str | None:
    # UTF-32 LE's BOM starts with UTF-16 LE's, so test the longer marks first
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return None


def _decodes(head: bytes, encoding: str, complete: bool) -> bool:
    """Strict decode through an incremental decoder: an unfinished character at the end is not an error."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    try:
        decoder.decode(head, final=complete)
    except UnicodeDecodeError:
        return False
    return True


def _utf16_without_bom(head: bytes, complete: bool) -> str | None:
    sample = head[: 8192 & ~1]
    pairs = len(sample) // 2
    if pairs < 2:
        return None
    nul_even = sample[0::2].count(0)
    nul_odd = sample[1::2].count(0)
    # ASCII characters (delimiters, digits, newlines) leave a NUL on one side of every pair; text in other
    # scripts still has those, so a few percent on one parity and five times fewer on the other is enough
    # (CJK characters such as U+9700 also have a zero byte).
    minimum = max(2, pairs // 20)
    if nul_odd >= minimum and nul_even * 5 <= nul_odd:
        candidate = "utf-16-le"
    elif nul_even >= minimum and nul_odd * 5 <= nul_even:
        candidate = "utf-16-be"
    else:
        return None
    try:
        text = codecs.getincrementaldecoder(candidate)("strict").decode(
            sample, final=complete and len(sample) == len(head)
        )
    except UnicodeDecodeError:
        return None
    # binary data can have the same NUL pattern; real text decodes to few control characters
    return None if _control_count(text) > max(4, len(text) // 100) else candidate


def _control_count(text: str) -> int:
    return sum(1 for ch in text if ord(ch) < 0x20 and ch not in "\t\n\x0b\x0c\r\x1b")


def _high_byte_pairing(head: bytes) -> tuple[int, int]:
    """Count bytes >= 0x80 in GBK-like pairs and those that stand alone; returns (paired, isolated)."""
    paired = isolated = 0
    i, n = 0, len(head)
    while i < n:
        b = head[i]
        if b < 0x80:
            i += 1
            continue
        nxt = head[i + 1] if i + 1 < n else None
        if nxt is None:  # cut off at the end of the sample: no evidence either way
            break
        if 0x81 <= b <= 0xFE and 0xA1 <= nxt <= 0xFE:
            paired += 2
            i += 2
        elif 0x81 <= b <= 0xFE and 0x30 <= nxt <= 0x39 and i + 3 < n and head[i + 2] >= 0x81:
            paired += 2  # GB18030 four-byte sequence: count its two high bytes
            i += 4
        else:
            isolated += 1
            i += 1
    return paired, isolated


def detect_encoding(head: bytes, *, complete: bool = False) -> str:
    """Guess the text encoding of a file from its first bytes.

    Parameters
    ----------
    head:
        The first bytes of the file.
    complete:
        True when ``head`` is the whole file, so an unfinished multi-byte character at its end is an error.

    Returns
    -------
    str
        One of ``utf-8``, ``utf-8-sig``, ``utf-16`` (with BOM), ``utf-16-le``, ``utf-16-be``, ``utf-32``,
        ``gb18030``, ``cp1252`` or ``latin-1``. ASCII-only input is ``utf-8``.
    """
    bom = _bom_encoding(head)
    if bom is not None:
        return bom
    if b"\x00" in head:
        wide = _utf16_without_bom(head, complete)
        if wide is not None:
            return wide
    if _decodes(head, "utf-8", complete):
        return "utf-8"
    paired, isolated = _high_byte_pairing(head)
    if paired and paired >= 4 * isolated and _decodes(head, "gb18030", complete):
        return "gb18030"
    if any(0x80 <= b <= 0x9F for b in head) and _decodes(head, "cp1252", complete):
        return "cp1252"
    return "latin-1"


def decode_sample(head: bytes, encoding: str, *, complete: bool = False) -> str:
    """Decode a head for sniffing: drop a BOM, replace bad bytes, and cut an unfinished last line."""
    decoder = codecs.getincrementaldecoder(encoding)("replace")
    text = decoder.decode(head, final=complete)
    text = text.removeprefix("\ufeff")
    if not complete:
        cut = max(text.rfind("\n"), text.rfind("\r"))
        text = text[: cut + 1] if cut >= 0 else ""
    return text


def _field_counts(sample: str, delimiter: str, max_records: int) -> list[int]:
    reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter, quotechar='"', doublequote=True)
    counts: list[int] = []
    try:
        for record in reader:
            if not record or (len(record) == 1 and not record[0].strip()):
                continue  # blank line: pyarrow skips these too
            counts.append(len(record))
            if len(counts) >= max_records:
                break
    except csv.Error:
        pass  # e.g. an unterminated quote at the end of a cut sample; judge the records read so far
    return counts


def detect_delimiter(sample: str, *, complete: bool = True, max_records: int = 50) -> str | None:
    """Choose the CSV delimiter among :data:`DELIMITER_CANDIDATES`, quote-aware.

    Each candidate parses the first ``max_records`` records with the :mod:`csv` module. A candidate qualifies
    when its header has more than one field; the winner is the one whose records most often have exactly the
    header's field count, then the one with more fields, then the earlier candidate.

    Parameters
    ----------
    sample:
        Decoded text from the start of the file (see :func:`decode_sample`).
    complete:
        False when the sample was cut from a longer file: its last record may be partial and is ignored.

    Returns
    -------
    str or None
        The delimiter, or ``None`` when no candidate splits the header into several fields (one column).
    """
    best: tuple[float, int, int] | None = None
    best_delimiter: str | None = None
    for rank, candidate in enumerate(DELIMITER_CANDIDATES):
        if candidate not in sample:
            continue
        counts = _field_counts(sample, candidate, max_records + 1)
        if not complete and len(counts) > 1:
            counts = counts[:-1]  # the last record of a cut sample may be partial
        counts = counts[:max_records]
        if not counts or counts[0] < 2:
            continue
        consistency = sum(1 for c in counts if c == counts[0]) / len(counts)
        score = (consistency, counts[0], -rank)
        if best is None or score > best:
            best, best_delimiter = score, candidate
    if best is None or best[0] < 0.5:
        return None
    return best_delimiter


def looks_like_jsonl(sample: str) -> bool:
    """True when the first non-blank line of ``sample`` is a complete JSON object."""
    for line in sample.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("{"):
            return False
        try:
            return isinstance(json.loads(stripped), dict)
        except ValueError:
            return False
    return False


def looks_like_json_array(sample: str) -> bool:
    """True when the sample starts with ``[`` and then ``{`` (white space aside): a JSON array of objects."""
    stripped = sample.lstrip()
    return stripped.startswith("[") and stripped[1:].lstrip().startswith(("{", "]"))


def sniff_text_format(head: bytes, *, complete: bool = False) -> str:
    """Guess ``jsonl``, ``csv`` or ``text`` for a text file whose extension says nothing."""
    encoding = detect_encoding(head, complete=complete)
    sample = decode_sample(head, encoding, complete=complete)
    if looks_like_jsonl(sample) or looks_like_json_array(sample):
        return "jsonl"
    if detect_delimiter(sample, complete=complete) is not None:
        return "csv"
    return "text"
