"""A hostile-input corpus for the `workbench` command (issue 11), generated here: no third-party files.

Every case is a file this module writes (or a device, a FIFO nobody opens, a folder, a symlink) given to a real
``python -m workbench.cli`` process under a memory cap (``RLIMIT_AS``), a CPU cap and a wall-clock timeout. Each
must end with exit status 2 and exactly one line on stderr (or, where documented, exit 0 with a warning), no
traceback, and never print the planted value hidden in the data. The cases run four at a time in one fixture;
each is then its own test.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

FAST_KDF = "argon2id:m=19456,t=2,p=1"
PASSPHRASE = "corpus passphrase"
PLANTED = "Zebulon-Quirk-4471"
MEMORY_CAP = 2 << 30  # bytes of address space per command
TIMEOUT_S = 20.0
BIG = 9 << 20  # a sparse file above every small-input limit (policy 8 MiB, keys and signatures 1 MiB)

# Runs the command as `python -m workbench.cli` does, under the caps (set in the child itself: thread-safe,
# unlike preexec_fn with a thread pool).
_RUNNER = (
    "import resource, runpy, sys\n"
    f"resource.setrlimit(resource.RLIMIT_AS, ({MEMORY_CAP}, {MEMORY_CAP}))\n"
    "resource.setrlimit(resource.RLIMIT_CPU, (30, 30))\n"
    "sys.argv[0] = 'workbench'\n"
    "runpy.run_module('workbench.cli', run_name='__main__', alter_sys=True)\n"
)


@dataclass(frozen=True)
class Case:
    id: str
    argv: Callable[[Env], list[str]]
    fragments: tuple[str, ...] = ()  # expected in the one stderr line
    ok: bool = False  # documented: exit 0 (a warning on stdout, nothing on stderr)
    stdout_has: tuple[str, ...] = ()


@dataclass
class Env:
    d: Path
    files: dict[str, Path] = field(default_factory=dict)

    def __getitem__(self, key: str) -> str:
        """The path of a file this module wrote, or ``key`` itself (a literal path such as /dev/zero)."""
        return str(self.files.get(key, key))


# ---- the corpus -------------------------------------------------------------------------------------------------


def _write(env: Env, key: str, name: str, data: bytes | str) -> None:
    path = env.d / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    env.files[key] = path


def _sparse(env: Env, key: str, name: str, size: int = BIG) -> None:
    path = env.d / name
    with open(path, "wb") as f:
        f.truncate(size)
    env.files[key] = path


def _flip(text: str, at: int) -> str:
    """``text`` with the base64 character at ``at`` changed."""
    return text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1 :]


def _fifo(env: Env, key: str) -> None:
    path = env.d / f"{key}.fifo"
    os.mkfifo(path)
    env.files[key] = path


# size: one function writes the whole corpus (about 100 lines), in the order of CASES below
def _build(d: Path) -> Env:
    from workbench.core.crypto import kdf, keys, share, sign

    env = Env(d)
    rows = "".join(f"{i},{PLANTED if i == 7 else f'Person {i}'},{20 + i % 50}\n" for i in range(200))
    _write(env, "csv", "patients.csv", "id,name,age\n" + rows)
    _write(
        env,
        "keyed_policy",
        "keyed.json",
        json.dumps(
            {
                "schema_version": 1,
                "columns": {
                    "name": {"treatment": "entity", "entity_type": "PERSON", "operator": {"operator": "pseudonym"}}
                },
            }
        ),
    )
    _write(env, "good_key_file", "good.key", bytes(range(40)))
    for key in ("fifo_a", "fifo_b", "fifo_c", "fifo_d", "fifo_e", "fifo_f", "fifo_g", "fifo_h", "fifo_i", "fifo_out"):
        _fifo(env, key)
    (d / "folder").mkdir()
    env.files["folder"] = d / "folder"
    env.files["device_out"] = d / "device_node"
    try:  # a real character device (1,3 is /dev/null) where allowed, else a symlink to one
        os.mknod(d / "device_node", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    except (PermissionError, OSError):
        (d / "device_node").symlink_to("/dev/null")
    (d / "input_link.csv").symlink_to(env.files["csv"])
    env.files["input_link"] = d / "input_link.csv"

    # policies
    _write(env, "deep_policy", "deep.json", "[" * 200_000 + "]" * 200_000)
    _write(env, "deep_policy_obj", "deep_obj.json", '{"schema_version": 1, "x": ' + '{"a": ' * 5000 + "1" + "}" * 5001)
    _write(env, "huge_int_policy", "huge.json", '{"schema_version": ' + "9" * 5001 + "}")
    _write(env, "junk_policy", "junk.json", os.urandom(4096) + PLANTED.encode())
    _write(env, "latin_policy", "latin.json", b'{"name": "caf\xe9 ' + PLANTED.encode() + b'"}')
    _write(env, "empty_policy", "empty.json", b"")
    _write(env, "list_policy", "list.json", "[" + json.dumps(PLANTED) + "]")
    _sparse(env, "big_policy", "big.json")

    # gold files (pii-eval)
    _write(env, "deep_gold", "deep_gold.json", "[" * 200_000 + "]" * 200_000)
    deep_obj = '{"a": ' * 5000 + "1" + "}" * 5000
    _write(env, "deep_gold_obj", "deep_gold_obj.json", '[{"full_text": "x", "spans": ' + deep_obj + "}]")
    _write(env, "huge_int_gold", "huge_gold.json", '[{"full_text": "x", "spans": [' + "9" * 5001 + "]}]")
    _sparse(env, "big_gold", "big_gold.json", (64 << 20) + 1)

    # keys, signatures, encrypted files
    alice = keys.PrivateKey.generate(name="alice")
    alice.save(d / "alice.key", PASSPHRASE, kdf=kdf.parse_spec(FAST_KDF))
    alice.public.save(d / "alice.pub")
    env.files.update(priv=d / "alice.key", pub=d / "alice.pub")
    sig_path = sign.sign_file(env.files["csv"], alice, out=d / "patients.csv.sig")
    env.files["sig"] = sig_path
    share.share_file(env.files["csv"], d / "patients.csv.shared", [alice.public])
    env.files["shared"] = d / "patients.csv.shared"
    pub_text = (d / "alice.pub").read_text()
    priv_text = (d / "alice.key").read_text()
    sig_text = sig_path.read_text()
    _write(env, "pub_truncated", "trunc.pub", pub_text[: len(pub_text) // 2])
    _write(env, "pub_bad_b64", "b64.pub", pub_text.replace("\n\n", "\n\n!!!", 1))
    _write(env, "pub_newer", "newer.pub", pub_text.replace("Version: 1", "Version: 99"))
    _write(env, "pub_binary", "binary.pub", os.urandom(2048))
    _write(env, "pub_empty", "empty.pub", b"")
    _sparse(env, "pub_big", "big.pub")
    body_start = priv_text.index("\n\n") + 2
    _write(env, "priv_flipped", "flipped.key", _flip(priv_text, body_start + 40))  # in the stream header
    _write(env, "priv_flipped_chunk", "flipped_chunk.key", _flip(priv_text, priv_text.index("-----END") - 30))
    end = "\n-----END PRIVACY WORKBENCH PRIVATE KEY-----\n"
    _write(env, "priv_truncated", "trunc.key", priv_text[: body_start + 60] + end)
    _write(env, "priv_fpr", "fpr.key", priv_text.replace(alice.public.fingerprint_text, "0000 " * 15 + "0000"))
    _write(env, "priv_headers", "headers.key", priv_text.replace("Type:", "Type", 1))
    _write(env, "priv_binary", "binary.key", os.urandom(3000))
    _sparse(env, "priv_big", "big.key")
    _write(env, "sig_truncated", "trunc.sig", sig_text[: len(sig_text) // 2])
    _write(env, "sig_flipped", "flipped.sig", _flip(sig_text, sig_text.index("\n\n") + 12))
    _write(env, "sig_size_edited", "size.sig", sig_text.replace("Size: ", "Size: 1", 1))
    _write(env, "sig_binary", "binary.sig", os.urandom(1500))
    _sparse(env, "sig_big", "big.sig")
    _write(env, "other_file", "other.csv", "id\n1\n")
    _write(env, "junk_encrypted", "junk.pwb", os.urandom(5000))
    _write(env, "short_key_file", "short.key", b"12345")
    _sparse(env, "big_key_file", "bigsecret.key", 1 << 20)

    # datasets
    _write(env, "deep_jsonl", "deep.jsonl", '{"a": 1}\n{"a": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    _write(env, "huge_int_jsonl", "huge.jsonl", '{"a": 1}\n{"a": ' + "7" * 5001 + "}\n")
    _write(env, "deep_json_array", "deep_array.json", "[" + '{"a": ' * 3000 + "1" + "}" * 3000 + "]")
    _write(env, "huge_int_json_array", "huge_array.json", '[{"a": ' + "7" * 5001 + "}]")
    _write(env, "binary_csv", "binary.csv", os.urandom(20_000) + PLANTED.encode())
    _write(env, "zip_csv", "archive.csv", b"PK\x03\x04" + os.urandom(2000))
    _write(env, "empty_csv", "empty.csv", b"")
    _write(env, "header_only", "header_only.csv", "id,name,age")
    _write(env, "escape_header", "escape.csv", "\x1b[2J\x1b]0;pwned\x07name,\x1b[31mage\nA,1\n")
    _write(env, "newline_name", "bad\nname.csv", b"")
    _write(env, "escape_name", "evil\x1b[31mname.csv", b"")
    _write(env, "ragged_csv", "ragged.csv", f"a,b\n1,2\n3,4,{PLANTED}\n")
    _write(env, "undecodable_jsonl", "undecodable.jsonl", b'{"a": "\xff\xfe' + PLANTED.encode() + b'"}\n')

    # a project and damaged copies of its store
    env.files["project"] = d / "project"
    _cli(["project", "init", str(d / "project")])
    _cli(["add", env["csv"], "--project", str(d / "project")])
    for key, column, value in (
        ("store_roles_text", "roles_json", "not json at all"),
        ("store_roles_unknown", "roles_json", json.dumps({"name": "weird_role"})),
        ("store_roles_deep", "roles_json", "[" * 5000 + "]" * 5000),
        ("store_roles_deep_valid", "roles_json", '{"name": ' + "[" * 500 + "]" * 500 + "}"),
        ("store_schema_string", "schema_json", json.dumps(PLANTED)),
        ("store_schema_shape", "schema_json", "[[1, 2, 3]]"),
        ("store_schema_huge_int", "schema_json", "[[" + "1" * 5001 + ', "x"]]'),
    ):
        target = d / key
        shutil.copytree(d / "project", target)
        with sqlite3.connect(target / "workbench.sqlite") as conn:
            conn.execute("PRAGMA ignore_check_constraints = ON")
            conn.execute(f"UPDATE datasets SET {column} = ?", (value,))  # noqa: S608 - fixed column names
        env.files[key] = target
    return env


def _cli(argv: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "workbench.cli", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env=_env(),
    )
    assert proc.returncode == 0, proc.stderr


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(WORKBENCH_PASSPHRASE=PASSPHRASE, WORKBENCH_PIPE_TIMEOUT_S="1")
    return env


def _c(case_id: str, argv: Callable[[Env], list[str]], *fragments: str, **kw: Any) -> Case:
    return Case(case_id, argv, tuple(fragments), **kw)


def _anon(policy: str, *extra: str) -> Callable[[Env], list[str]]:
    return lambda e: ["anonymize", e["csv"], "--policy", e[policy], "--out", str(e.d / "anon_out.csv"), *extra]


def _key_file(key: str) -> Callable[[Env], list[str]]:
    return lambda e: [
        "anonymize",
        e["csv"],
        "--policy",
        e["keyed_policy"],
        "--out",
        str(e.d / "k.csv"),
        "--key-file",
        e[key] if key in e.files else key,
    ]


def _sign_with(key: str) -> Callable[[Env], list[str]]:
    return lambda e: ["sign", e["csv"], "--key", e[key] if key in e.files else key, "--out", str(e.d / f"{key}.sig")]


def _verify_with(sig: str) -> Callable[[Env], list[str]]:
    return lambda e: ["verify", e["csv"], "--sig", e[sig] if sig in e.files else sig, "--pub", e["pub"]]


def _fingerprint(pub: str) -> Callable[[Env], list[str]]:
    return lambda e: ["fingerprint", e[pub] if pub in e.files else pub]


def _info(key: str) -> Callable[[Env], list[str]]:
    return lambda e: ["info", e[key] if key in e.files else key]


def _encrypt_to(out: Callable[[Env], str], *extra: str) -> Callable[[Env], list[str]]:
    return lambda e: ["encrypt", e["csv"], out(e), "--kdf", FAST_KDF, *extra]


def _pii_eval(gold: str) -> Callable[[Env], list[str]]:
    return lambda e: ["pii-eval", e[gold] if gold in e.files else gold]


def _store(key: str) -> Callable[[Env], list[str]]:
    return lambda e: ["datasets", "--project", e[key]]


CASES: list[Case] = [
    # -- policies (anonymize --policy): refused before the dataset is loaded or any model imported
    _c("policy-dev-zero", _anon("/dev/zero"), "is a device"),
    _c("policy-dev-urandom", _anon("/dev/urandom"), "is a device"),
    _c("policy-fifo", _anon("fifo_a"), "within 1 s"),
    _c("policy-folder", _anon("folder"), "is a folder"),
    _c("policy-missing", _anon("no-such.json"), "no such policy file"),
    _c("policy-deep-array", _anon("deep_policy"), "levels deep"),
    _c("policy-deep-object", _anon("deep_policy_obj"), "levels deep"),
    _c("policy-huge-int", _anon("huge_int_policy"), "too many digits"),
    _c("policy-binary", _anon("junk_policy"), "not UTF-8"),
    _c("policy-latin1", _anon("latin_policy"), "not UTF-8"),
    _c("policy-empty", _anon("empty_policy"), "not valid JSON"),
    _c("policy-list", _anon("list_policy"), "must be a JSON object"),
    _c("policy-too-big", _anon("big_policy"), "too large"),
    # -- gold files (pii-eval): read bounded, like a policy, before any model is loaded
    _c("gold-dev-zero", _pii_eval("/dev/zero"), "is a device"),
    _c("gold-fifo", _pii_eval("fifo_i"), "within 1 s"),
    _c("gold-folder", _pii_eval("folder"), "is a folder"),
    _c("gold-deep-array", _pii_eval("deep_gold"), "levels deep"),
    _c("gold-deep-object", _pii_eval("deep_gold_obj"), "levels deep"),
    _c("gold-huge-int", _pii_eval("huge_int_gold"), "too many digits"),
    _c("gold-too-big", _pii_eval("big_gold"), "too large"),
    # -- --key-file
    _c("keyfile-dev-zero", _key_file("/dev/zero"), "is a device"),
    _c("keyfile-dev-urandom", _key_file("/dev/urandom"), "is a device"),
    _c("keyfile-fifo", _key_file("fifo_b"), "within 1 s"),
    _c("keyfile-folder", _key_file("folder"), "is a folder"),
    _c("keyfile-missing", _key_file("nope.key"), "no such key file"),
    _c("keyfile-short", _key_file("short_key_file"), "at least 32"),
    _c("keyfile-too-big", _key_file("big_key_file"), "too large"),
    # -- public keys (fingerprint, share --to, verify --pub)
    _c("pub-dev-zero", _fingerprint("/dev/zero"), "is a device"),
    _c("pub-dev-urandom", _fingerprint("/dev/urandom"), "is a device"),
    _c("pub-fifo", _fingerprint("fifo_c"), "within 1 s"),
    _c("pub-folder", _fingerprint("folder"), "is a folder"),
    _c("pub-truncated", _fingerprint("pub_truncated"), "truncated"),
    _c("pub-bad-base64", _fingerprint("pub_bad_b64"), "base64"),
    _c("pub-newer-version", _fingerprint("pub_newer"), "newer"),
    _c("pub-binary", _fingerprint("pub_binary"), "not a Privacy Workbench public key"),
    _c("pub-empty", _fingerprint("pub_empty"), "not a Privacy Workbench public key"),
    _c("pub-too-big", _fingerprint("pub_big"), "too large"),
    _c("pub-private-given", _fingerprint("priv"), "not a Privacy Workbench public key"),
    _c(
        "share-to-dev-zero",
        lambda e: ["share", e["csv"], "--to", "/dev/zero", "--out", str(e.d / "s.pwb")],
        "is a device",
    ),
    # -- private keys (sign --key, open --key)
    _c("priv-dev-zero", _sign_with("/dev/zero"), "is a device"),
    _c("priv-fifo", _sign_with("fifo_d"), "within 1 s"),
    _c("priv-folder", _sign_with("folder"), "is a folder"),
    _c("priv-flipped-body", _sign_with("priv_flipped"), "flipped.key"),
    _c("priv-flipped-chunk", _sign_with("priv_flipped_chunk"), "flipped_chunk.key"),
    _c("priv-truncated", _sign_with("priv_truncated"), "trunc.key"),
    _c("priv-fingerprint-edited", _sign_with("priv_fpr"), "Fingerprint"),
    _c("priv-header-edited", _sign_with("priv_headers"), "header line"),
    _c("priv-binary", _sign_with("priv_binary"), "not a Privacy Workbench private key"),
    _c("priv-too-big", _sign_with("priv_big"), "too large"),
    _c("priv-public-given", _sign_with("pub"), "is a public key file"),
    _c(
        "open-key-dev-zero",
        lambda e: ["open", e["shared"], "--key", "/dev/zero", "--out", str(e.d / "o.csv")],
        "is a device",
    ),
    # -- signatures (verify --sig)
    _c("sig-dev-zero", _verify_with("/dev/zero"), "is a device"),
    _c("sig-fifo", _verify_with("fifo_e"), "within 1 s"),
    _c("sig-folder", _verify_with("folder"), "is a folder"),
    _c("sig-truncated", _verify_with("sig_truncated"), "truncated"),
    _c("sig-damaged", _verify_with("sig_flipped"), "flipped.sig: the signature is invalid"),
    _c("sig-size-edited", _verify_with("sig_size_edited"), "size.sig: the signature is invalid"),
    _c("sig-binary", _verify_with("sig_binary"), "binary.sig"),
    _c("sig-too-big", _verify_with("sig_big"), "too large"),
    _c("sig-other-file", lambda e: ["verify", e["other_file"], "--sig", e["sig"], "--pub", e["pub"]], "other.csv"),
    # -- crypto inputs: a folder, a device or a FIFO is refused before it is opened
    _c("encrypt-folder", lambda e: ["encrypt", e["folder"], str(e.d / "f.pwb"), "--kdf", FAST_KDF], "is a folder"),
    _c(
        "encrypt-dev-urandom",
        lambda e: ["encrypt", "/dev/urandom", str(e.d / "u.pwb"), "--kdf", FAST_KDF],
        "is a device",
    ),
    _c("encrypt-fifo", lambda e: ["encrypt", e["fifo_f"], str(e.d / "p.pwb"), "--kdf", FAST_KDF], "named pipe"),
    _c("decrypt-fifo", lambda e: ["decrypt", e["fifo_g"], str(e.d / "d.csv")], "named pipe"),
    _c("decrypt-dev-zero", lambda e: ["decrypt", "/dev/zero", str(e.d / "z.csv")], "is a device"),
    _c("decrypt-junk", lambda e: ["decrypt", e["junk_encrypted"], str(e.d / "j.csv")], "junk.pwb"),
    _c("share-fifo", lambda e: ["share", e["fifo_h"], "--to", e["pub"], "--out", str(e.d / "s2.pwb")], "named pipe"),
    _c("sign-folder", lambda e: ["sign", e["folder"], "--key", e["priv"], "--out", str(e.d / "x.sig")], "is a folder"),
    _c("verify-dev-zero", lambda e: ["verify", "/dev/zero", "--sig", e["sig"], "--pub", e["pub"]], "is a device"),
    # -- output paths: only regular files are replaced, never an input, never under /proc or /sys
    _c("out-device-force", _encrypt_to(lambda e: e["device_out"], "--force"), "is a device"),
    _c("out-fifo-force", _encrypt_to(lambda e: e["fifo_out"], "--force"), "named pipe"),
    _c("out-folder-force", _encrypt_to(lambda e: e["folder"], "--force"), "is a folder"),
    _c("out-is-input", _encrypt_to(lambda e: e["csv"], "--force"), "also an input"),
    _c("out-links-to-input", _encrypt_to(lambda e: e["input_link"], "--force"), "also an input"),
    _c("out-missing-folder", _encrypt_to(lambda e: str(e.d / "no" / "such" / "x.pwb")), "does not exist"),
    _c("out-proc-sys", _encrypt_to(lambda _e: "/proc/sys/x.csv"), "kernel interface"),
    _c("out-exists-no-force", _encrypt_to(lambda e: e["other_file"]), "already exists"),
    _c(
        "sign-out-is-key",
        lambda e: ["sign", e["csv"], "--key", e["priv"], "--out", e["priv"], "--force"],
        "also an input",
    ),
    _c(
        "open-out-is-key",
        lambda e: ["open", e["shared"], "--key", e["priv"], "--out", e["priv"], "--force"],
        "also an input",
    ),
    _c(
        "anonymize-out-is-policy",
        lambda e: ["anonymize", e["csv"], "--policy", e["keyed_policy"], "--out", e["keyed_policy"], "--force"],
        "is the policy of this command",
    ),
    _c(
        "anonymize-out-is-input",
        lambda e: ["anonymize", e["csv"], "--policy", e["keyed_policy"], "--out", e["csv"], "--force"],
        "is the original dataset",
    ),
    _c(
        "anonymize-out-proc",
        lambda e: ["anonymize", e["csv"], "--policy", e["keyed_policy"], "--out", "/proc/sys/x.csv"],
        "kernel interface",
    ),
    _c(
        "anonymize-out-missing-folder",
        lambda e: ["anonymize", e["csv"], "--policy", e["keyed_policy"], "--out", str(e.d / "missing" / "x.csv")],
        "does not exist",
    ),
    # -- datasets (info): devices and FIFOs refused before reading; bad content one line, no values quoted
    _c("data-dev-zero", _info("/dev/zero"), "a device"),
    _c("data-dev-urandom", _info("/dev/urandom"), "a device"),
    _c("data-fifo", _info("fifo_a"), "named pipe"),
    _c("data-folder", _info("folder"), "folder"),
    _c("data-deep-jsonl", _info("deep_jsonl"), "line 2 nests"),
    _c("data-huge-int-jsonl", _info("huge_int_jsonl"), "line 2 holds a number with too many digits"),
    _c("data-deep-json-array", _info("deep_json_array"), "too deeply"),
    _c("data-huge-int-json-array", _info("huge_int_json_array"), "too many digits"),
    _c("data-binary", _info("binary_csv"), "binary.csv"),
    _c("data-zip", _info("zip_csv"), "archive.csv"),
    _c("data-empty", _info("empty_csv"), "empty"),
    _c("data-ragged", _info("ragged_csv"), "line 3"),
    _c("data-not-utf8-read-as-latin1", _info("undecodable_jsonl"), ok=True, stdout_has=("latin-1",)),
    _c("data-newline-in-name", _info("newline_name"), "bad\\nname.csv"),
    _c("data-escape-in-name", _info("escape_name"), "evil\\x1b[31mname.csv"),
    _c("data-header-without-newline", _info("header_only"), ok=True, stdout_has=("header but no data rows",)),
    _c("data-escape-in-column-names", _info("escape_header"), ok=True, stdout_has=("\\x1b[31mage",)),
    _c("missing-name-with-escape", lambda e: ["fingerprint", str(e.d / "gone\x1b[2J\n.pub")], "gone\\x1b[2J\\n.pub"),
    # -- tampered project stores
    _c("store-roles-not-json", _store("store_roles_text"), "damaged"),
    _c("store-roles-unknown-role", _store("store_roles_unknown"), "damaged"),
    _c("store-roles-deep", _store("store_roles_deep"), "damaged"),
    _c("store-roles-deep-valid-json", _store("store_roles_deep_valid"), "store is damaged"),
    _c("store-schema-string", _store("store_schema_string"), "damaged"),
    _c("store-schema-shape", _store("store_schema_shape"), "damaged"),
    _c("store-schema-huge-int", _store("store_schema_huge_int"), "damaged"),
]


@dataclass(frozen=True)
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    seconds: float


def _run(env: Env, case: Case) -> Outcome:
    argv = case.argv(env)
    started = time.monotonic()
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _RUNNER, *argv],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=TIMEOUT_S,
            stdin=subprocess.DEVNULL,
            env={**_env(), "WORKBENCH_HOME": str(env.d / "home")},
        )
    except subprocess.TimeoutExpired:
        return Outcome(-1, "", f"timed out after {TIMEOUT_S} s", TIMEOUT_S)
    return Outcome(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    env = _build(tmp_path_factory.mktemp("hostile"))
    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = dict(zip([c.id for c in CASES], pool.map(lambda c: _run(env, c), CASES), strict=True))
    return outcomes


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 60 and len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input(case: Case, corpus: dict[str, Outcome]) -> None:
    out = corpus[case.id]
    assert out.returncode != -1, f"{case.id}: {out.stderr}"
    assert "Traceback" not in out.stderr + out.stdout, out.stderr
    assert PLANTED not in out.stderr + out.stdout
    assert "\x1b" not in out.stderr + out.stdout
    if case.ok:
        assert out.returncode == 0, out.stderr
        assert out.stderr == "", out.stderr
        for fragment in case.stdout_has:
            assert fragment in out.stdout, out.stdout
        return
    assert out.returncode == 2, (out.returncode, out.stderr)
    lines = out.stderr.splitlines()
    assert len(lines) == 1 and out.stderr.endswith("\n"), out.stderr
    assert lines[0].startswith("workbench: error: "), lines[0]
    for fragment in case.fragments:
        assert fragment in lines[0], (fragment, lines[0])


@pytest.mark.parametrize("extra", [[], ["--json"]], ids=["table", "json"])
def test_a_closed_stdout_ends_quietly(tmp_path: Path, extra: list[str]) -> None:
    """`workbench info FILE | head -1`: exit 0, nothing on stderr (documented in workbench/cli/_common.py)."""
    wide = tmp_path / "wide.csv"
    wide.write_text(",".join(f"column_{i}" for i in range(3000)) + "\n" + ",".join("1" * 3000) + "\n")
    proc = subprocess.Popen(
        [sys.executable, "-c", _RUNNER, "info", str(wide), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env={**_env(), "WORKBENCH_HOME": str(tmp_path / "home")},
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(10)
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=TIMEOUT_S) == 0, err
    assert err == b"", err


def test_a_small_key_file_arrives_through_a_pipe(tmp_path: Path) -> None:
    """`--key-file <(...)`: a pipe is accepted (the secret never touches the disk)."""
    from workbench.core.safe_io import read_small_file

    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdout.buffer.write(bytes(range(40)))"], stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    try:
        assert read_small_file(f"/dev/fd/{proc.stdout.fileno()}", what="key file", limit=1024) == bytes(range(40))
    finally:
        proc.wait()


@pytest.mark.parametrize("kind", ["fifo", "device", "folder", "huge", "deep"])
def test_settings_file_is_read_bounded(tmp_path: Path, kind: str) -> None:
    """A settings file replaced by a FIFO, a device, a folder, a huge or deeply nested file: defaults and one
    problem line, at once."""
    from workbench.core.settings import AppSettings, SettingsStore

    path = tmp_path / "settings.json"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        path.symlink_to("/dev/zero")
    elif kind == "folder":
        path.mkdir()
    elif kind == "huge":
        with open(path, "wb") as f:
            f.truncate(BIG)
    else:
        path.write_text("[" * 100_000 + "]" * 100_000)
    os.environ["WORKBENCH_PIPE_TIMEOUT_S"] = "0.2"
    try:
        started = time.monotonic()
        store = SettingsStore(path)
        assert store.load() == AppSettings()
        assert time.monotonic() - started < 5
    finally:
        del os.environ["WORKBENCH_PIPE_TIMEOUT_S"]
    assert store.problem and "\n" not in store.problem and "defaults used" in store.problem
