"""The loader contract, the format registry and the byte-level helpers every text loader shares.

A format is one module under :mod:`workbench.core.data.loaders` with one :class:`Loader` subclass. The
registry (:data:`FORMATS`, a :class:`workbench.core.registry.Registry`) knows each format by name, file
extensions and a cheap sniff on the first bytes, and imports the module only when a file of that format is
loaded: importing this module (or the package) imports neither pyarrow nor any loader.

Loaders are job generators (see :mod:`workbench.core.jobs`): ``load`` yields ``Progress(phase="parse")``
snapshots, at least one of them early with a small ``pa.Table`` of the first rows as ``payload``, and returns
a :class:`ParsedTable`. They raise :class:`~workbench.core.errors.DatasetError` with messages that never
contain dataset values, and chain nothing (``raise ... from None``) so a traceback cannot leak row text
either.
"""

from __future__ import annotations

import codecs
import io
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar

from workbench.core.data import detect
from workbench.core.data.dataset import LoadOptions
from workbench.core.errors import DatasetError
from workbench.core.jobs import CancelToken, JobGenerator
from workbench.core.registry import Registry

if TYPE_CHECKING:
    import pyarrow as pa

PASSTHROUGH_ENCODINGS = frozenset({"utf-8", "utf-8-sig"})
"""Encodings Arrow reads as they are; every other one is transcoded to UTF-8 by :class:`SourceReader`."""


@dataclass(frozen=True, slots=True)
class LoadSource:
    """What a loader reads: a file (its path, size at the start of the load and its first bytes), or the bytes of
    a file held in memory (``data``: a dataset decrypted from an encrypted project, which must never be written
    to disk in clear). ``path`` then only names the dataset in messages and picks the format by extension."""

    path: Path
    size: int
    head: bytes
    data: bytes | None = None

    def open_binary(self) -> BinaryIO:
        """A fresh binary reader over the whole source, positioned at its start."""
        if self.data is not None:
            return io.BytesIO(self.data)
        return open(self.path, "rb")  # noqa: SIM115 - the caller closes it (with-statement)

    @property
    def complete(self) -> bool:
        """True when :attr:`head` holds the whole file."""
        return len(self.head) >= self.size


@dataclass(frozen=True, slots=True)
class ParsedTable:
    """What a loader returns: the table with the file's own column names, and what it detected."""

    table: pa.Table
    encoding: str | None = None
    delimiter: str | None = None
    warnings: tuple[str, ...] = ()


class Loader(ABC):
    """One file format. Subclasses set :attr:`format_name` and implement :meth:`load`."""

    format_name: ClassVar[str] = ""

    @abstractmethod
    def load(self, source: LoadSource, options: LoadOptions, token: CancelToken) -> JobGenerator[ParsedTable]:
        """Parse ``source`` into a table.

        Yields ``Progress(phase="parse", ...)`` (bytes or rows) and, early, one whose ``payload`` is a
        ``pa.Table`` with at most ``options.preview_rows`` rows. Calls ``token.raise_if_cancelled()`` between
        batches. Raises DatasetError for bad input.
        """


# ------------------------------------------------------------------------------------------------------------
# Registry


FORMATS: Registry[type[Loader]] = Registry("format")
"""The registered formats: name -> ``"module:LoaderClass"``, with aliases and ``metadata["extensions"]``."""


def register_loader(
    name: str,
    module: str,
    attr: str,
    *,
    extensions: tuple[str, ...] = (),
    aliases: tuple[str, ...] = (),
) -> None:
    """Register a format whose :class:`Loader` class is ``module.attr``; the module is imported on first use.

    Parameters
    ----------
    name:
        The format name users and projects see (``"csv"``).
    module, attr:
        Dotted module path and class name of the loader.
    extensions:
        File name endings, lower case with the dot (``".csv"``), that select this format.
    aliases:
        Other names accepted for ``LoadOptions.format`` (``"tsv"`` for ``"csv"``).

    Raises
    ------
    ~workbench.core.registry.DuplicateNameError
        When the name or an alias is already registered (a format is never replaced).
    """
    FORMATS.register(
        name.lower(),
        f"{module}:{attr}",
        aliases=tuple(alias.lower() for alias in aliases),
        metadata={"extensions": tuple(e.lower() for e in extensions)},
    )


def available_formats() -> tuple[str, ...]:
    """Names of the registered formats, in registration order."""
    return FORMATS.names()


def format_names(*, include_aliases: bool = False) -> tuple[str, ...]:
    """The format names (for ``--format`` choices and menus), in registration order; imports no loader and no
    pyarrow. ``include_aliases`` adds each format's aliases after its name (``csv, tsv, jsonl, json, ...``)."""
    if not include_aliases:
        return FORMATS.names()
    return tuple(name for entry in FORMATS.entries() for name in (entry.name, *entry.aliases))


def resolve_format(name: str) -> str:
    """Map a format name or alias to its registered name; raise ValueError naming the choices."""
    entry = FORMATS.find(name.strip().lower())
    if entry is None:
        raise ValueError(f"unknown format {name!r}; choose one of: {', '.join(available_formats())}")
    return entry.name


def format_for(path: str | Path, head_bytes: bytes, options: LoadOptions, *, complete: bool = False) -> str:
    """Decide a file's format without importing any loader.

    A forced ``options.format`` wins; then binary magic (Parquet's ``PAR1``); then the file extension; then a
    sniff of the text (JSON object on the first line, a consistent delimiter, else plain text).
    """
    if options.format:
        return resolve_format(options.format)
    names = FORMATS.names()
    magic = detect.magic_format(head_bytes)
    if magic is not None and magic in names:
        return magic
    suffix = Path(path).suffix.lower()
    for entry in FORMATS.entries():
        if suffix and suffix in entry.metadata.get("extensions", ()):
            return entry.name
    if detect.magic_problem(head_bytes) is not None:
        return "text" if "text" in names else names[0]  # the text loader reports the problem
    sniffed = detect.sniff_text_format(head_bytes, complete=complete)
    return sniffed if sniffed in names else names[0]


def loader_for(path: str | Path, head_bytes: bytes, options: LoadOptions) -> Loader:
    """Return a loader instance for the file, importing its module lazily.

    Raises
    ------
    DatasetError
        When ``options.format`` names no registered format.
    """
    try:
        name = format_for(path, head_bytes, options)
    except ValueError as exc:
        raise DatasetError(path, str(exc)) from None
    loader: Loader = FORMATS.get(name)()
    return loader


# ------------------------------------------------------------------------------------------------------------
# Shared helpers for text formats


def choose_encoding(source: LoadSource, options: LoadOptions, token: CancelToken | None = None) -> str:
    """The forced encoding (normalised) or the detected one; raise DatasetError if it is unknown or binary, and
    a :class:`~workbench.core.data.misreads.MisreadError` when a detected Latin-1/cp1252 file also holds UTF-8."""
    if options.encoding:
        try:
            encoding = detect.normalize_encoding(options.encoding)
        except LookupError:
            raise DatasetError(source.path, f"unknown encoding {options.encoding.strip()!r}") from None
    else:
        encoding = detect.detect_encoding(source.head, complete=source.complete)
    problem = detect.binary_problem(source.head, encoding)
    if problem is not None:
        raise DatasetError(source.path, problem)
    if not options.encoding:
        from workbench.core.data.misreads import check_detected_encoding

        check_detected_encoding(source, encoding, token)  # a detected Latin-1 that is really UTF-8 mixed with it
    return encoding


def undecodable_message(offset: int | None, encoding: str) -> str:
    """The problem sentence for bytes that do not decode; names the offset, never the bytes."""
    where = f"bytes at offset {offset}" if offset is not None else "some bytes"
    label = "UTF-8" if encoding in PASSTHROUGH_ENCODINGS else encoding
    return f"{where} cannot be decoded as {label}; pass --encoding / choose the encoding"


def find_undecodable_offset(source: LoadSource, encoding: str, chunk: int = 1 << 20) -> int | None:
    """Byte offset of the first byte sequence in ``source`` that ``encoding`` cannot decode, or ``None``.

    Only used on the error path, after a parser has reported bad text without saying where.
    """
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    consumed = 0
    with source.open_binary() as fh:
        while True:
            data = fh.read(chunk)
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(data, final=not data)
            except UnicodeDecodeError as exc:
                return consumed - pending + exc.start
            if not data:
                return None
            consumed += len(data)


class DecodeFailure(Exception):
    """Raised by :class:`SourceReader` when the source does not decode; carries the offset, not the bytes."""

    def __init__(self, offset: int, encoding: str) -> None:
        super().__init__(f"undecodable bytes at offset {offset} ({encoding})")
        self.offset = offset
        self.encoding = encoding


class SourceReader(io.RawIOBase):
    """A read-only byte stream over a file that counts the bytes read and yields UTF-8.

    For UTF-8 (with or without BOM) it passes bytes through. For any other encoding it decodes incrementally
    and re-encodes to UTF-8, so Arrow always sees UTF-8, and a decoding failure is reported as a
    :class:`DecodeFailure` with the exact byte offset in the file. :attr:`bytes_read` counts *file* bytes, so
    progress is comparable to the file size.
    """

    def __init__(self, raw: BinaryIO | io.BufferedIOBase | io.RawIOBase, encoding: str = "utf-8") -> None:
        super().__init__()
        self._raw = raw
        self.encoding = encoding
        self.bytes_read = 0
        self.bytes_out = 0
        self._decoder = None if encoding in PASSTHROUGH_ENCODINGS else codecs.getincrementaldecoder(encoding)("strict")
        self._out = b""
        self._eof = False

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if self._decoder is None:
            data = self._raw.read(size if size is not None and size >= 0 else -1) or b""
            self.bytes_read += len(data)
            self.bytes_out += len(data)
            return data
        want = size if size is not None and size >= 0 else None
        while not self._eof and (want is None or len(self._out) < want):
            self._out += self._transcode(self._raw.read(max(want or 0, 1 << 20)) or b"")
        if want is None:
            data, self._out = self._out, b""
        else:
            data, self._out = self._out[:want], self._out[want:]
        self.bytes_out += len(data)
        return data

    @property
    def scale(self) -> float:
        """File bytes per UTF-8 byte delivered so far (1.0 for UTF-8), to turn parsed text into progress."""
        return self.bytes_read / self.bytes_out if self.bytes_out else 1.0

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _transcode(self, data: bytes) -> bytes:
        assert self._decoder is not None
        pending = len(self._decoder.getstate()[0])
        try:
            text = self._decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            raise DecodeFailure(self.bytes_read - pending + exc.start, self.encoding) from None
        self.bytes_read += len(data)
        if not data:
            self._eof = True
        return text.encode("utf-8")


@dataclass(frozen=True, slots=True)
class LineBatch:
    """Lines of a text file, UTF-8 encoded, without their line breaks.

    ``numbers[i]`` is the 1-based line number of ``lines[i]``; ``offsets[i]`` its byte offset in the UTF-8
    stream (the file offset when the file is UTF-8). Blank lines are left out.
    """

    lines: list[bytes]
    numbers: list[int]
    offsets: list[int]
    bytes_read: int


def iter_line_batches(
    source: LoadSource,
    encoding: str,
    token: CancelToken,
    *,
    batch_bytes: int = 4 << 20,
    skip_blank: bool = True,
) -> Iterator[LineBatch]:
    """Read a text file as batches of UTF-8 lines; the first batch is small so a preview comes fast.

    Raises
    ------
    DecodeFailure
        When a non-UTF-8 source does not decode (UTF-8 is validated later, by whoever decodes the lines).
    """
    with source.open_binary() as raw:
        reader = SourceReader(raw, encoding)
        remainder = b""
        line_no = 0
        offset = 0
        first = True
        bom_checked = False
        while True:
            token.raise_if_cancelled()
            data = reader.read(64 << 10 if first else batch_bytes)
            if not bom_checked and (data or remainder):
                bom_checked = True
                if data.startswith(codecs.BOM_UTF8):  # utf-8-sig read as bytes, or a BOM the decoder kept
                    data = data[len(codecs.BOM_UTF8) :]
                    offset += len(codecs.BOM_UTF8)
            buf = remainder + data
            if data:
                cut = buf.rfind(b"\n") + 1
                if cut == 0 and not first:
                    remainder = buf
                    continue
                body, remainder = buf[:cut], buf[cut:]
            else:
                body, remainder = buf, b""
            lines: list[bytes] = []
            numbers: list[int] = []
            offsets: list[int] = []
            for piece in body.splitlines(keepends=True):
                line_no += 1
                line = piece.rstrip(b"\r\n")
                if not skip_blank or line.strip():
                    lines.append(line)
                    numbers.append(line_no)
                    offsets.append(offset)
                offset += len(piece)
            if lines or not data:
                yield LineBatch(lines, numbers, offsets, reader.bytes_read)
            first = False
            if not data:
                return


def translate_unexpected(path: Path, what: str) -> DatasetError:
    """A DatasetError for a parser failure we cannot explain more precisely (its own message is not shown)."""
    return DatasetError(path, f"the file could not be read as {what}; check that the format and encoding are right")
