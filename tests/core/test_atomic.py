"""The one atomic-write helper: all or nothing, private by default, never clobbers without being asked."""

from __future__ import annotations

import errno
import os
import stat
import sys
from collections.abc import Generator
from pathlib import Path

import pytest

from workbench.core import atomic
from workbench.core.atomic import PARTIAL_SUFFIX, atomic_write, atomic_write_bytes, atomic_write_text


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_the_target_appears_only_when_complete(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    with atomic_write(target, overwrite=False) as f:
        f.write(b"first half ")
        assert not target.exists(), "nothing under the real name while writing"
        (partial,) = [p for p in tmp_path.iterdir()]
        assert partial.name.startswith(".out.bin.") and partial.name.endswith(PARTIAL_SUFFIX)
        f.write(b"second half")
    assert target.read_bytes() == b"first half second half"
    assert _names(tmp_path) == ["out.bin"]


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_an_exception_mid_write_keeps_the_old_content_and_leaves_no_temp(tmp_path: Path, error: type) -> None:
    target = tmp_path / "settings.json"
    target.write_text("old")
    with pytest.raises(error), atomic_write(target, overwrite=True, binary=False) as f:
        f.write("new, but never finished")
        raise error("stop")
    assert target.read_text() == "old"
    assert _names(tmp_path) == ["settings.json"]


def test_closing_a_generator_mid_write_leaves_no_temp(tmp_path: Path) -> None:
    def job() -> Generator[int, None, None]:
        with atomic_write(tmp_path / "x.bin", overwrite=False) as f:
            for i in range(10):
                f.write(bytes([i]))
                yield i

    gen = job()
    next(gen)
    gen.close()  # GeneratorExit at the yield
    assert _names(tmp_path) == []


def test_overwrite_false_refuses_an_existing_file_and_leaves_it_untouched(tmp_path: Path) -> None:
    target = tmp_path / "key.pub"
    target.write_bytes(b"keep me")
    with pytest.raises(FileExistsError):
        atomic_write_bytes(target, b"replacement", overwrite=False)
    assert target.read_bytes() == b"keep me"
    assert _names(tmp_path) == ["key.pub"]
    # A file that appears while the new one is written is not clobbered either.
    late = tmp_path / "late.csv"
    with pytest.raises(FileExistsError), atomic_write(late, overwrite=False) as f:
        f.write(b"mine")
        late.write_bytes(b"theirs")
    assert late.read_bytes() == b"theirs"
    assert _names(tmp_path) == ["key.pub", "late.csv"]


def test_overwrite_true_replaces(tmp_path: Path) -> None:
    target = tmp_path / "recent.json"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two", overwrite=True)
    assert target.read_text() == "two"
    assert _names(tmp_path) == ["recent.json"]


def test_no_hard_links_falls_back_to_a_checked_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_links(src: object, dst: object) -> None:
        raise OSError(errno.EPERM, "hard links not supported")

    monkeypatch.setattr(atomic.os, "link", no_links)
    atomic_write_bytes(tmp_path / "a", b"1", overwrite=False)
    assert (tmp_path / "a").read_bytes() == b"1"
    with pytest.raises(FileExistsError):
        atomic_write_bytes(tmp_path / "a", b"2", overwrite=False)
    assert (tmp_path / "a").read_bytes() == b"1"
    assert _names(tmp_path) == ["a"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_mode_is_private_by_default_and_can_be_chosen(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "private", b"x")
        atomic_write_text(tmp_path / "public", "x", mode=0o644)
        (tmp_path / "replaced").write_text("was world-readable")
        os.chmod(tmp_path / "replaced", 0o644)
        atomic_write_text(tmp_path / "replaced", "now private")
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE((tmp_path / "private").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "public").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "replaced").stat().st_mode) == 0o600


def test_text_mode_encoding_and_newlines(tmp_path: Path) -> None:
    atomic_write_text(tmp_path / "k.key", "a\nb\n", encoding="ascii", newline="\n")
    assert (tmp_path / "k.key").read_bytes() == b"a\nb\n"
    atomic_write_text(tmp_path / "u.txt", "é")
    assert (tmp_path / "u.txt").read_bytes() == "é".encode()
    with pytest.raises(UnicodeEncodeError):
        atomic_write_text(tmp_path / "bad.key", "é", encoding="ascii")
    assert not (tmp_path / "bad.key").exists()
    assert not any(p.name.endswith(PARTIAL_SUFFIX) for p in tmp_path.iterdir())


def test_a_failed_sync_or_rename_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with monkeypatch.context() as m:
        m.setattr(atomic.os, "fsync", no_space)
        with pytest.raises(OSError, match="No space left"):
            atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old" and _names(tmp_path) == ["out.bin"]

    def refuse(src: object, dst: object) -> None:
        raise PermissionError(errno.EACCES, "denied")

    monkeypatch.setattr(atomic.os, "replace", refuse)
    with pytest.raises(PermissionError):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old" and _names(tmp_path) == ["out.bin"]


def test_windows_retries_a_briefly_locked_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_replace = os.replace
    calls: list[int] = []

    def locked_twice(src: str, dst: str) -> None:
        calls.append(1)
        if len(calls) <= 2:
            raise PermissionError(errno.EACCES, "the file is open in another process")
        real_replace(src, dst)

    monkeypatch.setattr(atomic, "_WINDOWS", True)
    monkeypatch.setattr(atomic.os, "replace", locked_twice)
    monkeypatch.setattr(atomic.time, "sleep", lambda seconds: None)
    atomic_write_text(tmp_path / "recent.json", "[]")
    assert (tmp_path / "recent.json").read_text() == "[]" and len(calls) == 3
    # Elsewhere a PermissionError is final: no retry.
    calls.clear()
    monkeypatch.setattr(atomic, "_WINDOWS", False)
    with pytest.raises(PermissionError):
        atomic_write_text(tmp_path / "recent.json", "[1]")
    assert len(calls) == 1 and (tmp_path / "recent.json").read_text() == "[]"
    assert _names(tmp_path) == ["recent.json"]


def test_a_missing_folder_is_an_oserror_and_a_long_name_still_works(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        atomic_write_bytes(tmp_path / "missing" / "x", b"")
    long_name = "n" * 250
    atomic_write_bytes(tmp_path / long_name, b"ok")
    assert _names(tmp_path) == [long_name]


# ---- sensitive plaintext: no name while writing (issue 11) ------------------------------------------------------

_LINUX_TMPFILE = sys.platform.startswith("linux") and hasattr(os, "O_TMPFILE")


@pytest.mark.skipif(not _LINUX_TMPFILE, reason="O_TMPFILE is Linux only")
@pytest.mark.parametrize("overwrite", [False, True])
def test_sensitive_output_has_no_name_while_it_is_written(tmp_path: Path, overwrite: bool) -> None:
    target = tmp_path / "plain.csv"
    if overwrite:
        target.write_bytes(b"old")
    with atomic_write(target, overwrite=overwrite, sensitive=True) as f:
        f.write(b"secret row\n" * 1000)
        f.flush()
        assert _names(tmp_path) == (["plain.csv"] if overwrite else []), "no directory entry, not even hidden"
        if overwrite:
            assert target.read_bytes() == b"old"
        # The open file is an unnamed one: /proc shows it as deleted, in the target's folder.
        assert os.readlink(f"/proc/self/fd/{f.fileno()}").endswith("(deleted)")
    assert target.read_bytes() == b"secret row\n" * 1000
    assert _names(tmp_path) == ["plain.csv"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


@pytest.mark.skipif(not _LINUX_TMPFILE, reason="O_TMPFILE is Linux only")
def test_sensitive_output_refuses_an_existing_target_and_leaves_nothing(tmp_path: Path) -> None:
    late = tmp_path / "late.csv"
    with pytest.raises(FileExistsError), atomic_write(late, overwrite=False, sensitive=True) as f:
        f.write(b"mine")
        late.write_bytes(b"theirs")
    assert late.read_bytes() == b"theirs" and _names(tmp_path) == ["late.csv"]
    with pytest.raises(RuntimeError), atomic_write(tmp_path / "x", overwrite=False, sensitive=True) as f:
        f.write(b"half")
        raise RuntimeError("stop")
    assert _names(tmp_path) == ["late.csv"]


@pytest.mark.parametrize("how", ["no O_TMPFILE", "refused"])
def test_sensitive_output_falls_back_to_a_named_temp_where_unnamed_files_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    if how == "no O_TMPFILE":
        monkeypatch.setattr(atomic, "_O_TMPFILE", 0)
    else:
        if not _LINUX_TMPFILE:
            pytest.skip("O_TMPFILE is Linux only")
        real_open = os.open

        def refusing(path: object, flags: int, *args: object, **kwargs: object) -> int:
            if flags & os.O_TMPFILE == os.O_TMPFILE:
                raise OSError(errno.EOPNOTSUPP, "not supported by this file system")
            return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(atomic.os, "open", refusing)
    target = tmp_path / "out.csv"
    rows = b"".join(b"secret row %d\n" % i for i in range(300_000))  # several MB: more than one buffer
    with atomic_write(target, overwrite=False, sensitive=True) as f:
        f.write(rows[:5])
        f.write(rows[5:])
        f.flush()
        (partial,) = tmp_path.iterdir()
        assert partial.name.startswith(".out.csv.") and partial.name.endswith(PARTIAL_SUFFIX)
        on_disk = partial.read_bytes()
        assert len(on_disk) == len(rows) and b"secret" not in on_disk, "encrypted under a throw-away key"
        f.seek(7)
        f.write(b"SECRET")  # positional: rewriting in place works
        assert f.tell() == 13
        f.seek(0, os.SEEK_END)
    assert target.read_bytes() == rows[:7] + b"SECRET" + rows[13:]
    assert _names(tmp_path) == ["out.csv"]
    # Text mode, and an exception: nothing is left.
    with atomic_write(tmp_path / "t.txt", overwrite=True, binary=False, sensitive=True) as t:
        t.write("é\n" * 10)
    assert (tmp_path / "t.txt").read_text(encoding="utf-8") == "é\n" * 10
    with pytest.raises(RuntimeError), atomic_write(tmp_path / "x", overwrite=False, sensitive=True) as f:
        f.write(b"half")
        raise RuntimeError("stop")
    assert _names(tmp_path) == ["out.csv", "t.txt"]


def test_a_sensitive_anonymized_copy_without_unnamed_files_is_right_in_every_format(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow as pa

    from workbench.core.data.load import load_dataset
    from workbench.core.pii.engine import write_output

    monkeypatch.setattr(atomic, "_O_TMPFILE", 0)
    table = pa.table({"name": [f"Person {i}" for i in range(5000)], "age": list(range(5000))})
    for fmt in ("csv", "parquet", "jsonl"):
        out = write_output(table, tmp_path / f"copy.{fmt}")
        assert load_dataset(out).table.num_rows == 5000
    assert _names(tmp_path) == ["copy.csv", "copy.jsonl", "copy.parquet"]


def test_a_write_sweeps_only_its_own_stale_partials(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    stale = tmp_path / f".out.csv.{'ab' * 8}{PARTIAL_SUFFIX}"
    stale.write_bytes(b"left by a killed run")
    others = [
        f".out.csv.1234{PARTIAL_SUFFIX}",  # not our pattern
        f".other.csv.{'cd' * 8}{PARTIAL_SUFFIX}",  # another target's
        f"out.csv.{'ef' * 8}{PARTIAL_SUFFIX}",  # not hidden
        f".out.csv.{'AB' * 8}{PARTIAL_SUFFIX}",  # not lower-case hex
    ]
    for name in others:
        (tmp_path / name).write_bytes(b"not ours")
    atomic_write_bytes(target, b"new")
    assert _names(tmp_path) == sorted([*others, "out.csv"])


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX locks")
def test_a_sweep_never_removes_a_write_in_progress(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    with atomic_write(target, overwrite=True) as f:  # a named temp, locked while it is written
        f.write(b"in progress")
        (partial,) = tmp_path.iterdir()
        assert atomic.sweep_partials(target) == []
        atomic_write_bytes(target, b"a concurrent writer of the same file")  # sweeps too
        assert partial.exists()
    assert target.read_bytes() == b"in progress"
    assert _names(tmp_path) == ["out.csv"]


@pytest.mark.skipif(not _LINUX_TMPFILE, reason="O_TMPFILE is Linux only")
def test_a_failed_rename_of_a_sensitive_output_leaves_no_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "plain.csv"
    target.write_bytes(b"old")

    def refuse(src: object, dst: object) -> None:
        raise PermissionError(errno.EACCES, "denied")

    monkeypatch.setattr(atomic.os, "replace", refuse)
    with pytest.raises(PermissionError):
        atomic_write_bytes(target, b"new plaintext")  # not sensitive: the named temp goes
    with pytest.raises(PermissionError), atomic_write(target, overwrite=True, sensitive=True) as f:
        f.write(b"new plaintext")
    assert target.read_bytes() == b"old" and _names(tmp_path) == ["plain.csv"]


@pytest.mark.skipif(not _LINUX_TMPFILE, reason="O_TMPFILE is Linux only")
def test_an_interrupt_just_after_the_link_leaves_no_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGINT/SIGTERM can raise KeyboardInterrupt right after linkat returned (found by the kill campaign)."""
    target = tmp_path / "plain.csv"
    target.write_bytes(b"old")
    real_link = atomic._link_unnamed

    def link_then_interrupt(fd: int, name: Path) -> None:
        real_link(fd, name)
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic, "_link_unnamed", link_then_interrupt)
    with pytest.raises(KeyboardInterrupt), atomic_write(target, overwrite=True, sensitive=True) as f:
        f.write(b"new plaintext")
    assert target.read_bytes() == b"old" and _names(tmp_path) == ["plain.csv"]


@pytest.mark.skipif(not _LINUX_TMPFILE, reason="O_TMPFILE is Linux only")
def test_a_sensitive_output_replacing_nothing_is_linked_straight_to_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names: list[str] = []
    real_link = atomic._link_unnamed

    def record(fd: int, name: Path) -> None:
        names.append(name.name)
        real_link(fd, name)

    monkeypatch.setattr(atomic, "_link_unnamed", record)
    with atomic_write(tmp_path / "new.csv", overwrite=True, sensitive=True) as f:
        f.write(b"1")
    with atomic_write(tmp_path / "new.csv", overwrite=True, sensitive=True) as f:
        f.write(b"2")
    assert names[0] == "new.csv" and names[1].startswith(".new.csv.") and len(names) == 2
    assert (tmp_path / "new.csv").read_bytes() == b"2" and _names(tmp_path) == ["new.csv"]
