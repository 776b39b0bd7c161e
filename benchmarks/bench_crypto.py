"""Throughput of the streaming format against single-shot AES-GCM, KDF timing, and memory on a 2 GB file.

Measures, in one run on the same bytes:

* **throughput**: single-shot ``AESGCM.encrypt`` over the whole buffer (what "no format" costs, output allocated
  by the call) and ``AESGCM.encrypt_into`` a preallocated buffer (the bare cipher), against the streaming format
  (1 MiB chunks, header, read-ahead, per-chunk AAD) encrypting and decrypting memory to memory. The goal is
  streaming >= 70% of single-shot ``encrypt``. Best of ``--repeat`` runs each, so a neighbour's burst of work on a
  shared machine hurts less.
* **files**: the same bytes encrypted file to file and decrypted back (page cache, fsync before the rename).
* **KDF**: the tuning time and the time to derive a key with the tuned parameters (goal ~0.5 s), plus the floor.
* ``--big``: a 2 GB sparse file (no disk space for the input) encrypted to a real file and decrypted to a
  discarding sink, each in a fresh process measuring its peak RSS (``VmHWM``; goal < 100 MB). Once with a
  vault-style secret key (what the project vault does per file), once with a passphrase (Argon2id's 46 MiB are
  allocated briefly before the first chunk). The files are removed afterwards.

Reproduce::

    .venv/bin/python benchmarks/bench_crypto.py                 # 256 MB throughput + KDF
    .venv/bin/python benchmarks/bench_crypto.py --big           # and the 2 GB peak-memory run
    .venv/bin/python benchmarks/bench_crypto.py --size-mb 64 --repeat 3 --json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

MB = 1_000_000
MIB = 1 << 20


class _Sink:
    """Counts what is written and drops it (no second copy of the data in memory)."""

    def __init__(self, check_zero: bool = False) -> None:
        self.n = 0
        self.check_zero = check_zero
        self.zero = bytes(MIB)

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self.check_zero and data != self.zero[: len(data)]:
            raise AssertionError("decrypted data differs from the input")
        self.n += len(data)
        return len(data)


def _best(fn: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def throughput(size: int, repeat: int, tmpdir: Path) -> dict[str, Any]:
    import io

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from workbench.core.crypto import stream
    from workbench.core.jobs import drive

    data = os.urandom(size)
    key = os.urandom(32)
    aead = AESGCM(key)
    nonce = os.urandom(12)
    out = bytearray(size + 16)
    secret = stream.SecretKey(os.urandom(16), os.urandom(32))

    def single_shot() -> None:
        aead.encrypt(nonce, data, None)

    def single_into() -> None:
        aead.encrypt_into(nonce, data, None, out)

    def stream_encrypt() -> None:
        sink = _Sink()
        drive(stream.encrypt_stream_job(stream.BytesReader(data), sink, [secret]))
        assert sink.n > size

    blob = io.BytesIO()
    drive(stream.encrypt_stream_job(stream.BytesReader(data), blob, [secret]))
    ciphertext = blob.getvalue()
    del blob

    def stream_decrypt() -> None:
        sink = _Sink()
        drive(stream.decrypt_stream_job(stream.BytesReader(ciphertext), sink, secret))
        assert sink.n == size

    # Interleave the candidates so that background load hits them alike.
    results: dict[str, list[float]] = {"single": [], "single_into": [], "stream_enc": [], "stream_dec": []}
    for _ in range(repeat):
        results["single"].append(_best(single_shot, 1))
        results["single_into"].append(_best(single_into, 1))
        results["stream_enc"].append(_best(stream_encrypt, 1))
        results["stream_dec"].append(_best(stream_decrypt, 1))
    best = {k: min(v) for k, v in results.items()}
    mbps = {k: size / MB / t for k, t in best.items()}

    src, enc, back = tmpdir / "plain.bin", tmpdir / "enc.pwb", tmpdir / "back.bin"
    src.write_bytes(data)
    t_file_enc = _best(lambda: stream.encrypt_file(src, enc, [secret], overwrite=True), repeat)
    t_file_dec = _best(lambda: stream.decrypt_file(enc, back, secret, overwrite=True), repeat)
    assert back.read_bytes() == data
    for p in (src, enc, back):
        p.unlink()

    return {
        "size_mb": size / MB,
        "single_shot_encrypt_MBps": round(mbps["single"]),
        "single_shot_encrypt_into_MBps": round(mbps["single_into"]),
        "stream_encrypt_MBps": round(mbps["stream_enc"]),
        "stream_decrypt_MBps": round(mbps["stream_dec"]),
        "stream_vs_single_shot": round(mbps["stream_enc"] / mbps["single"], 3),
        "stream_vs_single_shot_into": round(mbps["stream_enc"] / mbps["single_into"], 3),
        "file_encrypt_MBps": round(size / MB / t_file_enc),
        "file_decrypt_MBps": round(size / MB / t_file_dec),
        "runs": {k: [round(t, 4) for t in v] for k, v in results.items()},
    }


def kdf_timing(repeat: int) -> dict[str, Any]:
    from workbench.core.crypto import kdf

    start = time.perf_counter()
    params = kdf.tune()
    tuning_s = time.perf_counter() - start
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        kdf.derive_key("benchmark passphrase", params)
        times.append(time.perf_counter() - start)
    floor = kdf.minimum_params()
    floor_s = _best(lambda: kdf.derive_key("benchmark passphrase", floor), repeat)
    return {
        "tuned": params.describe(),
        "tuning_s": round(tuning_s, 3),
        "derive_s_median": round(statistics.median(times), 3),
        "derive_s_all": [round(t, 3) for t in times],
        "floor": floor.describe(),
        "floor_derive_s": round(floor_s, 3),
    }


# --- the 2 GB run, one fresh process per measurement --------------------------------------------------------


def _peak_rss_kib() -> int:
    """Peak resident memory of this process in KiB.

    Linux's ``ru_maxrss`` survives fork + exec, so a child started by a parent holding 1 GB would report 1 GB;
    ``VmHWM`` in /proc belongs to the address space, which exec replaces. Other systems fall back to ru_maxrss.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def big_child(mode: str, src: str, dst: str) -> dict[str, Any]:
    """Run one encryption or decryption of the big file in this (fresh) process; report time and peak RSS."""
    import psutil

    from workbench.core.crypto import kdf, stream
    from workbench.core.jobs import drive

    proc = psutil.Process()
    rss_after_imports = proc.memory_info().rss
    secret = stream.SecretKey(b"B" * 16, b"K" * 32)
    start = time.perf_counter()
    if mode == "encrypt-key":
        summary = stream.encrypt_file(src, dst, [secret], overwrite=True)
    elif mode == "encrypt-passphrase":
        summary = stream.encrypt_file(src, dst, [stream.Passphrase("bench", kdf=kdf.default_params())], overwrite=True)
    elif mode == "decrypt-key":
        sink = _Sink(check_zero=True)
        with open(src, "rb") as f:
            summary = drive(stream.decrypt_stream_job(f, sink, secret))
    else:
        raise SystemExit(f"unknown mode {mode}")
    elapsed = time.perf_counter() - start
    peak_kib = _peak_rss_kib()
    return {
        "mode": mode,
        "seconds": round(elapsed, 2),
        "MBps": round(summary.plaintext_bytes / MB / elapsed),
        "plaintext_bytes": summary.plaintext_bytes,
        "rss_after_imports_MB": round(rss_after_imports / MB, 1),
        "peak_rss_MB": round(peak_kib * 1024 / MB, 1),
    }


def big(size: int, tmp_root: Path) -> list[dict[str, Any]]:
    free = shutil.disk_usage(tmp_root).free
    if free < size * 1.2 + 512 * MB:
        raise SystemExit(f"--big needs about {size * 1.2 / 1e9:.1f} GB free under {tmp_root}; {free / 1e9:.1f} GB free")
    folder = Path(tempfile.mkdtemp(prefix="bench-crypto-", dir=tmp_root))
    try:
        src = folder / "big.bin"
        with open(src, "wb") as f:
            f.truncate(size)  # sparse: reads as zeros, takes no disk space
        enc = folder / "big.pwb"
        results = []
        for mode, a, b in (
            ("encrypt-key", src, enc),
            ("decrypt-key", enc, ""),
            ("encrypt-passphrase", src, enc),
        ):
            out = subprocess.run(
                [sys.executable, __file__, "--child", mode, str(a), str(b)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            results.append(json.loads(out.strip().splitlines()[-1]))
        return results
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=256, help="bytes for the throughput comparison (MB)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--big", action="store_true", help="also encrypt a 2 GB file measuring peak RSS")
    parser.add_argument("--big-gb", type=float, default=2.0)
    parser.add_argument("--tmpdir", default=tempfile.gettempdir(), help="where temporary files go")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", nargs=3, metavar=("MODE", "SRC", "DST"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        print(json.dumps(big_child(*args.child)))
        return 0

    import cryptography
    from cryptography.hazmat.backends.openssl.backend import backend

    report: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}",
        "cryptography": cryptography.__version__,
        "openssl": backend.openssl_version_text(),
    }
    tmp_root = Path(args.tmpdir)
    work = Path(tempfile.mkdtemp(prefix="bench-crypto-", dir=tmp_root))
    try:
        report["throughput"] = throughput(args.size_mb * MB, args.repeat, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report["kdf"] = kdf_timing(max(3, args.repeat))
    if args.big:
        report["big"] = big(int(args.big_gb * 1e9), tmp_root)

    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    t = report["throughput"]
    k = report["kdf"]
    print(f"machine: {report['machine']}; cryptography {report['cryptography']}, {report['openssl']}")
    print(f"\nthroughput on {t['size_mb']:.0f} MB in memory (best of {args.repeat}):")
    print(f"  single-shot AESGCM.encrypt        {t['single_shot_encrypt_MBps']:>7,} MB/s")
    print(f"  single-shot AESGCM.encrypt_into   {t['single_shot_encrypt_into_MBps']:>7,} MB/s  (preallocated output)")
    print(f"  streaming format, encrypt         {t['stream_encrypt_MBps']:>7,} MB/s")
    print(f"  streaming format, decrypt         {t['stream_decrypt_MBps']:>7,} MB/s")
    ratio = t["stream_vs_single_shot"]
    verdict = "meets" if ratio >= 0.7 else "MISSES"
    print(f"  streaming / single-shot encrypt = {ratio:.0%} ({verdict} the 70% goal); ", end="")
    print(f"/ encrypt_into = {t['stream_vs_single_shot_into']:.0%}")
    print(f"  file to file (page cache, fsync): encrypt {t['file_encrypt_MBps']:,} MB/s, ", end="")
    print(f"decrypt {t['file_decrypt_MBps']:,} MB/s")
    print(f"\nKDF: tuned to {k['tuned']} in {k['tuning_s']} s; derive {k['derive_s_median']} s (median, goal ~0.5 s)")
    print(f"     floor {k['floor']}: {k['floor_derive_s']} s")
    for r in report.get("big", []):
        verdict = "meets" if r["peak_rss_MB"] < 100 else "MISSES"
        print(
            f"\n{args.big_gb:g} GB {r['mode']}: {r['seconds']} s ({r['MBps']:,} MB/s), peak RSS {r['peak_rss_MB']} MB "
            f"({verdict} < 100 MB; {r['rss_after_imports_MB']} MB after imports)",
            end="",
        )
    if report.get("big"):
        print()
    cmd = "benchmarks/bench_crypto.py" + (" --big" if args.big else "")
    if args.size_mb != 256:
        cmd += f" --size-mb {args.size_mb}"
    print(f"\nreproduce: .venv/bin/python {cmd}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
