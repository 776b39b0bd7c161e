"""The crypto commands run as a user would: exit codes, one-line errors, and no partial output after a failure.

KDF parameters are the floor, passed explicitly with ``--kdf`` (the defaults stay tuned to ~0.5 s).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FAST_KDF = "argon2id:m=19456,t=2,p=1"


def wb(
    *args: str, passphrase: str | None = "file passphrase", cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("WORKBENCH_PASSPHRASE", None)
    if passphrase is not None:
        env["WORKBENCH_PASSPHRASE"] = passphrase
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,  # no terminal: prompts must not hang
    )


def assert_user_error(proc: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("workbench: error: ")
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture()
def plain(tmp_path: Path) -> Path:
    p = tmp_path / "in" / "patients.csv"
    p.parent.mkdir()
    p.write_bytes(b"id,name\n" + b"".join(b"%d,Patient %d\n" % (i, i) for i in range(300_000)))  # ~5.5 MB
    return p


def test_encrypt_decrypt_round_trip_and_failures(tmp_path: Path, plain: Path) -> None:
    enc = tmp_path / "patients.csv.pwb"
    proc = wb("encrypt", str(plain), str(enc), "--kdf", FAST_KDF)
    assert proc.returncode == 0, proc.stderr
    assert "encrypted" in proc.stdout and proc.stderr == ""
    assert b"Patient 1" not in enc.read_bytes()

    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "patients.csv"
    proc = wb("decrypt", str(enc), str(out))
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() == plain.read_bytes()

    assert_user_error(wb("decrypt", str(enc), str(out)), "already exists", "--force")
    out.unlink()

    assert_user_error(wb("decrypt", str(enc), str(out), passphrase="not it"), "wrong passphrase")
    assert names(out_dir) == []

    assert_user_error(wb("decrypt", str(enc), str(out), passphrase=None), "no passphrase", "WORKBENCH_PASSPHRASE")
    assert names(out_dir) == []

    data = bytearray(enc.read_bytes())
    header = int.from_bytes(data[12:16], "big")  # the header length field (docs/crypto-format.md)
    record = (1 << 20) + 16
    data[header + 2 * record + 100] ^= 0x10  # inside chunk 2 of 6
    bad = tmp_path / "bad.pwb"
    bad.write_bytes(bytes(data))
    assert_user_error(wb("decrypt", str(bad), str(out)), "chunk 2", "failed authentication")
    assert names(out_dir) == [], "no partial plaintext after a tamper"

    bad.write_bytes(enc.read_bytes()[: header + 3 * record])
    assert_user_error(wb("decrypt", str(bad), str(out)), "file is truncated: the final chunk is missing")
    assert names(out_dir) == []

    assert_user_error(wb("decrypt", str(plain), str(out)), "not a Privacy Workbench encrypted file")
    assert_user_error(wb("encrypt", str(tmp_path / "missing.csv"), str(tmp_path / "m.pwb")), "no such file")
    assert_user_error(wb("encrypt", str(plain), str(tmp_path / "w.pwb"), "--kdf", "argon2id:m=1024,t=1"), "minimum")
    assert not (tmp_path / "w.pwb").exists()


def test_keygen_share_open_sign_verify(tmp_path: Path, plain: Path) -> None:
    keys = tmp_path / "keys"
    for name in ("site-a", "site-b"):
        proc = wb("keygen", "--out", str(keys), "--name", name, "--kdf", FAST_KDF, passphrase=f"{name} key pw")
        assert proc.returncode == 0, proc.stderr
        assert "fingerprint:" in proc.stdout
    proc = wb("keygen", "--out", str(keys), "--name", "site-c", "--rsa", "--kdf", FAST_KDF, passphrase="c pw")
    assert proc.returncode == 0, proc.stderr
    assert "rsa-3072" in proc.stdout
    assert names(keys) == ["site-a.key", "site-a.pub", "site-b.key", "site-b.pub", "site-c.key", "site-c.pub"]
    assert_user_error(wb("keygen", "--out", str(keys), "--name", "site-a", "--kdf", FAST_KDF), "already exists")
    fp_b = wb("fingerprint", str(keys / "site-b.pub")).stdout.split("  ")[-1].strip()
    assert len(fp_b.split()) == 16

    shared = tmp_path / "shared.pwb"
    proc = wb(
        "share", str(plain), "--to", str(keys / "site-b.pub"), "--to", str(keys / "site-c.pub"), "--out", str(shared)
    )
    assert proc.returncode == 0, proc.stderr
    assert fp_b in proc.stdout

    out_dir = tmp_path / "out"
    out_dir.mkdir()
    for who, pw in (("site-b", "site-b key pw"), ("site-c", "c pw")):
        out = out_dir / f"{who}.csv"
        proc = wb("open", str(shared), "--key", str(keys / f"{who}.key"), "--out", str(out), passphrase=pw)
        assert proc.returncode == 0, proc.stderr
        assert out.read_bytes() == plain.read_bytes()
        out.unlink()
    wrong = wb(
        "open", str(shared), "--key", str(keys / "site-a.key"), "--out", str(out_dir / "x"), passphrase="site-a key pw"
    )
    assert_user_error(wrong, "not shared with your key 'site-a'")
    assert_user_error(
        wb("open", str(shared), "--key", str(keys / "site-b.key"), "--out", str(out_dir / "x"), passphrase="nope"),
        "wrong passphrase",
    )
    assert_user_error(wb("decrypt", str(shared), str(out_dir / "x")), "not protected by a passphrase", "workbench open")
    assert names(out_dir) == []

    sig = tmp_path / "patients.csv.sig"
    proc = wb("sign", str(plain), "--key", str(keys / "site-a.key"), "--out", str(sig), passphrase="site-a key pw")
    assert proc.returncode == 0, proc.stderr
    fp_a = wb("fingerprint", str(keys / "site-a.pub")).stdout.split("  ")[-1].strip()
    proc = wb("verify", str(plain), "--sig", str(sig), "--pub", str(keys / "site-a.pub"))
    assert proc.returncode == 0, proc.stderr
    assert f"good signature by site-a ({fp_a})" in proc.stdout
    assert_user_error(
        wb("verify", str(plain), "--sig", str(sig), "--pub", str(keys / "site-b.pub")), "not by the given"
    )
    with plain.open("ab") as f:
        f.write(b"1,Extra row\n")
    assert_user_error(
        wb("verify", str(plain), "--sig", str(sig), "--pub", str(keys / "site-a.pub")), "modified after signing"
    )


def test_crypto_commands_keep_cryptography_out_of_help() -> None:
    code = (
        "import sys, json\nimport workbench.cli as c\ntry:\n    c.main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('cryptography'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True).stdout
    assert json.loads(out.strip().splitlines()[-1]) == []
    help_text = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "--help"], capture_output=True, text=True, timeout=60
    ).stdout
    for command in ("encrypt", "decrypt", "keygen", "share", "open", "sign", "verify"):
        assert command in help_text
