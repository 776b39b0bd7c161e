"""Passphrase key derivation: Argon2id (default) or scrypt, with parameters stored beside what they protect.

A passphrase never encrypts anything itself: it goes through a memory-hard KDF whose parameters (algorithm, salt,
costs) are stored in the file or vault header, so the cost can be raised over the years without breaking old
files. Three rules keep that safe:

* **Floor (downgrade protection).** Parameters read from a header must be at least :data:`ARGON2ID_FLOOR` /
  :data:`SCRYPT_FLOOR`; weaker ones raise :class:`WeakParametersError` before anything is derived. The same floor
  applies when writing, so the workbench never produces a header it would refuse to read.
* **Ceiling.** Parameters above :data:`ARGON2ID_CEILING` / :data:`SCRYPT_CEILING` are refused too: a modified
  header must not make the app try to allocate 64 GiB.
* **Tuning.** New headers get parameters that cost about half a second here (:func:`tune`, cached per process by
  :func:`default_params`): 46 MiB of memory and as many passes as fit in the target time.

Passphrases are normalised to Unicode NFC and encoded as UTF-8, so the same passphrase typed on different systems
(composed vs decomposed accents) derives the same key.

Tests use cheap parameters by passing them explicitly (``kdf=minimum_params()``), never by lowering the defaults.
"""

from __future__ import annotations

import functools
import struct
import time
import unicodedata
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Final

from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from workbench.core.crypto.primitives import (
    KEY_SIZE,
    FormatError,
    UnsupportedParameterError,
    WeakParametersError,
    random_bytes,
)

SALT_SIZE: Final = 16

KDF_ID_ARGON2ID: Final = 1
KDF_ID_SCRYPT: Final = 2

_ENCODED = struct.Struct(">BIIIB")  # kdf id, three costs, salt length; then the salt
ENCODED_SIZE: Final = _ENCODED.size + SALT_SIZE
"""Bytes of :meth:`Argon2idParams.encode` / :meth:`ScryptParams.encode` output (with a 16-byte salt)."""

DEFAULT_TARGET_SECONDS: Final = 0.5
DEFAULT_MEMORY_KIB: Final = 46 * 1024
"""Argon2id memory for new headers: 46 MiB (47104 KiB, OWASP's first Argon2id configuration), with the passes
tuned to the target time. Not 64 MiB: with 64 MiB a passphrase encryption of a 2 GB file peaked at 105 MB RSS
(the KDF's allocation comes on top of the interpreter's ~34 MB), above the workbench's 100 MB budget."""
DEFAULT_LANES: Final = 4


@dataclass(frozen=True, slots=True)
class Argon2idParams:
    """Argon2id (RFC 9106) parameters.

    Parameters
    ----------
    salt:
        16 random bytes, new for every header.
    memory_kib:
        Memory cost ``m`` in KiB.
    iterations:
        Time cost ``t`` (passes over the memory).
    lanes:
        Parallelism ``p``. The backend computes lanes one after another, so 4 lanes cost what 1 costs here.
    """

    salt: bytes
    memory_kib: int
    iterations: int
    lanes: int

    algorithm: ClassVar[str] = "argon2id"

    def derive(self, passphrase: str | bytes, length: int = KEY_SIZE) -> bytes:
        """Derive ``length`` bytes from ``passphrase`` (no floor check: use :func:`derive_key` for headers)."""
        kdf = Argon2id(
            salt=self.salt,
            length=length,
            iterations=self.iterations,
            lanes=self.lanes,
            memory_cost=self.memory_kib,
        )
        return kdf.derive(normalize_passphrase(passphrase))

    def encode(self) -> bytes:
        return _ENCODED.pack(KDF_ID_ARGON2ID, self.memory_kib, self.iterations, self.lanes, len(self.salt)) + self.salt

    def to_json(self) -> dict[str, Any]:
        return {
            "algorithm": "argon2id",
            "salt": self.salt.hex(),
            "memory_kib": self.memory_kib,
            "iterations": self.iterations,
            "lanes": self.lanes,
        }

    def describe(self) -> str:
        return f"argon2id m={self.memory_kib} KiB t={self.iterations} p={self.lanes}"

    def with_new_salt(self) -> Argon2idParams:
        return replace(self, salt=random_bytes(SALT_SIZE))

    def check_bounds(self, floor: Argon2idParams | None = None) -> None:
        """Raise :class:`WeakParametersError` unless floor <= self <= ceiling, cost by cost."""
        floor = floor or ARGON2ID_FLOOR
        _check_salt(self.salt)
        _check_costs(
            self.describe(),
            [
                ("memory", self.memory_kib, floor.memory_kib, ARGON2ID_CEILING.memory_kib, "KiB"),
                ("iterations", self.iterations, floor.iterations, ARGON2ID_CEILING.iterations, ""),
                ("lanes", self.lanes, floor.lanes, ARGON2ID_CEILING.lanes, ""),
            ],
        )


@dataclass(frozen=True, slots=True)
class ScryptParams:
    """scrypt (RFC 7914) parameters: ``N = 2**log2_n``, block size ``r``, parallelism ``p``.

    Memory is ``128 * r * N`` bytes (32 MiB at the floor, N = 2**15 and r = 8).
    """

    salt: bytes
    log2_n: int
    r: int
    p: int

    algorithm: ClassVar[str] = "scrypt"

    def derive(self, passphrase: str | bytes, length: int = KEY_SIZE) -> bytes:
        """Derive ``length`` bytes from ``passphrase`` (no floor check: use :func:`derive_key` for headers)."""
        kdf = Scrypt(salt=self.salt, length=length, n=1 << self.log2_n, r=self.r, p=self.p)
        return kdf.derive(normalize_passphrase(passphrase))

    def encode(self) -> bytes:
        return _ENCODED.pack(KDF_ID_SCRYPT, self.log2_n, self.r, self.p, len(self.salt)) + self.salt

    def to_json(self) -> dict[str, Any]:
        return {"algorithm": "scrypt", "salt": self.salt.hex(), "log2_n": self.log2_n, "r": self.r, "p": self.p}

    def describe(self) -> str:
        return f"scrypt N=2^{self.log2_n} r={self.r} p={self.p}"

    def with_new_salt(self) -> ScryptParams:
        return replace(self, salt=random_bytes(SALT_SIZE))

    def check_bounds(self, floor: ScryptParams | None = None) -> None:
        """Raise :class:`WeakParametersError` unless floor <= self <= ceiling, cost by cost."""
        floor = floor or SCRYPT_FLOOR
        _check_salt(self.salt)
        _check_costs(
            self.describe(),
            [
                ("log2(N)", self.log2_n, floor.log2_n, SCRYPT_CEILING.log2_n, ""),
                ("r", self.r, floor.r, SCRYPT_CEILING.r, ""),
                ("p", self.p, floor.p, SCRYPT_CEILING.p, ""),
            ],
        )
        if 128 * self.r * (1 << self.log2_n) > 2 * 1024**3:
            raise WeakParametersError(f"key-derivation parameters {self.describe()} need more than 2 GiB of memory")


KdfParams = Argon2idParams | ScryptParams
"""Parameters of either supported KDF."""

ARGON2ID_FLOOR: Final = Argon2idParams(salt=b"", memory_kib=19 * 1024, iterations=2, lanes=1)
"""The weakest Argon2id accepted from a header (OWASP's minimum: 19 MiB, 2 passes). About 20 ms here."""
ARGON2ID_CEILING: Final = Argon2idParams(salt=b"", memory_kib=4 * 1024 * 1024, iterations=64, lanes=16)
SCRYPT_FLOOR: Final = ScryptParams(salt=b"", log2_n=15, r=8, p=1)
"""The weakest scrypt accepted from a header (N = 2**15, r = 8: 32 MiB)."""
SCRYPT_CEILING: Final = ScryptParams(salt=b"", log2_n=22, r=32, p=16)


def _check_salt(salt: bytes) -> None:
    if len(salt) < SALT_SIZE:
        raise WeakParametersError(f"the key-derivation salt is {len(salt)} bytes; at least {SALT_SIZE} are required")


def _check_costs(described: str, costs: list[tuple[str, int, int, int, str]]) -> None:
    for name, value, low, high, unit in costs:
        if value < low:
            raise WeakParametersError(
                f"refusing key-derivation parameters weaker than the minimum ({described}: {name} {value}{unit} < "
                f"{low}{unit}). A modified header could make a passphrase cheap to guess; if you wrote this file "
                "with custom settings, re-encrypt it with the defaults"
            )
        if value > high:
            raise WeakParametersError(
                f"refusing key-derivation parameters above the supported maximum ({described}: {name} {value}{unit}"
                f" > {high}{unit}); the header is damaged or was not written by the workbench"
            )


def normalize_passphrase(passphrase: str | bytes) -> bytes:
    """Return the bytes a passphrase derives from: NFC-normalised UTF-8 for text, unchanged for bytes.

    Raises
    ------
    WeakParametersError
        For an empty passphrase.
    """
    data = unicodedata.normalize("NFC", passphrase).encode("utf-8") if isinstance(passphrase, str) else passphrase
    if not data:
        raise WeakParametersError("the passphrase is empty; choose a passphrase (several words are best)")
    return bytes(data)


def derive_key(
    passphrase: str | bytes,
    params: KdfParams,
    *,
    floor: KdfParams | None = None,
    length: int = KEY_SIZE,
) -> bytes:
    """Check ``params`` against the floor and ceiling, then derive a key from ``passphrase``.

    Parameters
    ----------
    passphrase:
        Text (normalised, see :func:`normalize_passphrase`) or bytes.
    params:
        Usually read from a header.
    floor:
        The weakest parameters accepted, of the same algorithm; default :data:`ARGON2ID_FLOOR` or
        :data:`SCRYPT_FLOOR`. Raising it is fine; there is deliberately no way to lower it below the default.
    length:
        Key bytes to derive.

    Raises
    ------
    WeakParametersError
        Parameters below the floor or above the ceiling, or an empty passphrase.
    """
    default_floor: KdfParams = ARGON2ID_FLOOR if isinstance(params, Argon2idParams) else SCRYPT_FLOOR
    if floor is None:
        floor = default_floor
    elif type(floor) is not type(params):
        raise UnsupportedParameterError("the floor must be of the same algorithm as the parameters")
    else:
        # A caller may raise the floor, never lower it: the floor itself must pass the built-in bounds.
        replace(floor, salt=b"\0" * SALT_SIZE).check_bounds()  # type: ignore[arg-type]
    params.check_bounds(floor)  # type: ignore[arg-type]
    return params.derive(passphrase, length)


def decode(data: bytes | memoryview) -> tuple[KdfParams, int]:
    """Parse parameters written by ``encode()``; return them and the number of bytes consumed.

    Raises
    ------
    FormatError
        Truncated or unknown algorithm id. Bounds are *not* checked here (see :func:`derive_key`).
    """
    if len(data) < _ENCODED.size:
        raise FormatError("key-derivation parameters are truncated")
    kdf_id, a, b, c, salt_len = _ENCODED.unpack_from(data, 0)
    end = _ENCODED.size + salt_len
    if len(data) < end:
        raise FormatError("key-derivation salt is truncated")
    salt = bytes(data[_ENCODED.size : end])
    if kdf_id == KDF_ID_ARGON2ID:
        return Argon2idParams(salt=salt, memory_kib=a, iterations=b, lanes=c), end
    if kdf_id == KDF_ID_SCRYPT:
        return ScryptParams(salt=salt, log2_n=a, r=b, p=c), end
    raise FormatError(f"unknown key-derivation algorithm id {kdf_id} (this workbench knows argon2id and scrypt)")


def from_json(obj: Any) -> KdfParams:
    """Parse parameters written by ``to_json()``.

    Raises
    ------
    FormatError
        Missing or malformed fields. Bounds are *not* checked here.
    """
    try:
        algorithm = obj["algorithm"]
        salt = bytes.fromhex(obj["salt"])
        if algorithm == "argon2id":
            return Argon2idParams(
                salt=salt, memory_kib=int(obj["memory_kib"]), iterations=int(obj["iterations"]), lanes=int(obj["lanes"])
            )
        if algorithm == "scrypt":
            return ScryptParams(salt=salt, log2_n=int(obj["log2_n"]), r=int(obj["r"]), p=int(obj["p"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise FormatError(f"malformed key-derivation parameters ({type(exc).__name__}: {exc})") from None
    raise FormatError(f"unknown key-derivation algorithm {algorithm!r} (this workbench knows argon2id and scrypt)")


def minimum_params(algorithm: str = "argon2id") -> KdfParams:
    """The floor parameters with a fresh salt: the cheapest accepted. For tests and for very slow machines."""
    if algorithm == "argon2id":
        return ARGON2ID_FLOOR.with_new_salt()
    if algorithm == "scrypt":
        return SCRYPT_FLOOR.with_new_salt()
    raise UnsupportedParameterError(f"unknown key-derivation algorithm {algorithm!r}; use argon2id or scrypt")


def tune(
    target_seconds: float = DEFAULT_TARGET_SECONDS,
    *,
    algorithm: str = "argon2id",
    memory_kib: int = DEFAULT_MEMORY_KIB,
    lanes: int = DEFAULT_LANES,
) -> KdfParams:
    """Pick parameters that take about ``target_seconds`` to derive on this machine.

    Argon2id keeps ``memory_kib`` (46 MiB) and fits the number of passes from two timed runs (1 and 3 passes:
    time = fixed + passes x per-pass). scrypt keeps r = 8, p = 1 and doubles N until the target is reached.
    Never returns anything below the floor. Takes a few tenths of a second; :func:`default_params` caches it.
    """
    if algorithm == "argon2id":
        floor = ARGON2ID_FLOOR
        memory_kib = max(memory_kib, floor.memory_kib)
        probe = Argon2idParams(salt=random_bytes(SALT_SIZE), memory_kib=memory_kib, iterations=1, lanes=lanes)
        t1 = _time_derive(probe)
        t3 = _time_derive(replace(probe, iterations=3))
        per_pass = max((t3 - t1) / 2, 1e-4)
        fixed = max(t1 - per_pass, 0.0)
        passes = round((target_seconds - fixed) / per_pass)
        passes = min(max(passes, floor.iterations), ARGON2ID_CEILING.iterations)
        return replace(probe, iterations=passes, salt=random_bytes(SALT_SIZE))
    if algorithm == "scrypt":
        params = SCRYPT_FLOOR.with_new_salt()
        while params.log2_n < SCRYPT_CEILING.log2_n - 1 and _time_derive(params) * 2 <= target_seconds * 1.3:
            params = replace(params, log2_n=params.log2_n + 1)
        return params.with_new_salt()
    raise UnsupportedParameterError(f"unknown key-derivation algorithm {algorithm!r}; use argon2id or scrypt")


def _time_derive(params: KdfParams) -> float:
    best = float("inf")
    for _ in range(2):  # the first run pays for page faults on fresh memory
        start = time.perf_counter()
        params.derive(b"tuning passphrase")
        best = min(best, time.perf_counter() - start)
    return best


@functools.lru_cache(maxsize=4)
def _tuned(algorithm: str, target_seconds: float) -> KdfParams:
    return tune(target_seconds, algorithm=algorithm)


def default_params(algorithm: str = "argon2id") -> KdfParams:
    """Parameters for a new header: tuned to about 0.5 s on this machine (tuned once per process), fresh salt."""
    return _tuned(algorithm, DEFAULT_TARGET_SECONDS).with_new_salt()


def parse_spec(spec: str) -> KdfParams:
    """Parse a command-line parameter spec, e.g. ``argon2id:m=65536,t=3,p=4`` or ``scrypt:n=17,r=8,p=1``.

    ``m`` is in KiB and scrypt's ``n`` is log2(N). The result has a fresh salt and is checked against the floor.

    Raises
    ------
    WeakParametersError, FormatError
        Below the floor, or not a valid spec (the message shows the expected form).
    """
    usage = "expected argon2id:m=KIB,t=PASSES,p=LANES or scrypt:n=LOG2N,r=R,p=P"
    algorithm, _, rest = spec.strip().partition(":")
    try:
        fields = dict(item.split("=", 1) for item in rest.split(",") if item)
        values = {k.strip(): int(v) for k, v in fields.items()}
        params: KdfParams
        if algorithm == "argon2id":
            params = Argon2idParams(
                salt=random_bytes(SALT_SIZE), memory_kib=values["m"], iterations=values["t"], lanes=values.get("p", 1)
            )
        elif algorithm == "scrypt":
            params = ScryptParams(
                salt=random_bytes(SALT_SIZE), log2_n=values["n"], r=values.get("r", 8), p=values.get("p", 1)
            )
        else:
            raise FormatError(f"unknown key-derivation algorithm {algorithm!r}: {usage}")
    except (KeyError, ValueError) as exc:
        raise FormatError(f"bad key-derivation spec {spec!r} ({exc}): {usage}") from None
    params.check_bounds()
    return params
