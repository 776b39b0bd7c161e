"""Names that come from the disk (folder, file and column names) are printed escaped by the `project` commands
and the dataset listing: an escape sequence in a name can neither drive the terminal nor split a line (issue 11)."""

from __future__ import annotations

import os
from pathlib import Path

from tests.support.cli import run_workbench
from tests.support.planted import FAST_KDF_SPEC, PASSPHRASE

ESC = "\x1b[31m"


def test_project_commands_print_names_escaped(tmp_path: Path) -> None:
    env = dict(os.environ, WORKBENCH_PASSPHRASE=PASSPHRASE)
    folder = tmp_path / f"proj{ESC}x"
    data = tmp_path / f"evil{ESC}name.csv"  # outside the project: stays in clear, named by encrypt
    data.write_text(f"id,{ESC}col\n1,2\n2,3\n", encoding="utf-8")

    steps = [
        ("project", "init", str(folder)),
        ("add", str(data), "--project", str(folder)),
        ("datasets", "--project", str(folder)),
        ("project", "encrypt", str(folder), "--kdf", FAST_KDF_SPEC),
    ]
    outputs = []
    for argv in steps:
        proc = run_workbench(*argv, env=env)
        assert proc.returncode == 0, (argv, proc.stderr)
        outputs.append(proc.stdout + proc.stderr)
    assert all("\x1b" not in out for out in outputs), outputs
    init_out, _add_out, listing, encrypt_out = outputs
    assert "proj\\x1b[31mx" in init_out
    assert "evil\\x1b[31mname" in listing
    assert "still in clear at" in encrypt_out and "evil\\x1b[31mname.csv" in encrypt_out
