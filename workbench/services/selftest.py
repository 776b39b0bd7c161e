"""The installation self-test: every subsystem once, on tiny built-in data, offline.

``privacy-workbench --self-test`` and ``workbench selftest`` run it on a target machine to prove that the
installed application (frozen folder or venv) works there: a CSV loads, PII is detected and anonymized with the
bundled spaCy model, one DP-SGD step runs with the bundled encoder and the accountant reports epsilon, a file
survives an encrypt/decrypt round trip, a signature verifies (and a tampered copy does not), and, when the
caller adds it, a window opens and is grabbed offscreen (Qt lives in the caller: this module is Qt-free). A
loopback federation round (a SuperLink and two SuperNodes on 127.0.0.1, one DP round) is opt-in because it takes
20-60 s: ``--with-federation``.

Every check runs in a temporary folder that is also ``WORKBENCH_HOME`` for the duration, so the self-test never
reads or writes the user's settings, keys, ledger or recent projects, and nothing it makes outlives it. Nothing
is downloaded: models come from installed packages, and ``HF_HUB_OFFLINE=1`` is set.
"""

from __future__ import annotations

import contextlib
import os
import random
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workbench.core.data.dataset import Dataset

CheckFunction = Callable[[Path], str]
"""A check: runs in the given empty folder, returns a one-line detail, raises on failure."""

_FIRST = ["Alice", "Bruno", "Chen", "Dana", "Emil", "Fatima", "Goran", "Hana", "Ivan", "Julia"]
_LAST = ["Meyer", "Rossi", "Wang", "Cohen", "Novak", "Haddad", "Petrov", "Sato", "Larsen", "Silva"]
_CITIES = ["Berlin", "Madrid", "Toronto", "Chicago", "Lisbon", "Vienna"]


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    run: CheckFunction


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    ok: bool
    detail: str
    seconds: float

    def line(self) -> str:
        return f"{'PASS' if self.ok else 'FAIL'}  {self.name:<11} {self.seconds:6.1f} s  {self.detail}"


def sample_csv(rows: int = 24, seed: int = 7) -> str:
    """A small synthetic CSV (made here, so the self-test needs no data file): names, e-mails, a free-text note
    naming the person and a city, two numeric columns and a label that depends on them."""
    rng = random.Random(seed)
    lines = ["name,email,age,visits,note,label"]
    for i in range(rows):
        first, last = _FIRST[i % len(_FIRST)], _LAST[rng.randrange(len(_LAST))]
        age, visits = rng.randint(20, 80), rng.randint(0, 12)
        city = _CITIES[rng.randrange(len(_CITIES))]
        note = f"{first} {last} called from {city} about the results"
        label = "high" if age + 4 * visits > 75 else "low"
        lines.append(f"{first} {last},{first.lower()}.{last.lower()}@example.org,{age},{visits},{note},{label}")
    return "\n".join(lines) + "\n"


def _load(folder: Path, rows: int = 24) -> Dataset:
    from workbench.core.data.load import load_dataset

    path = folder / "selftest.csv"
    path.write_text(sample_csv(rows), encoding="utf-8")
    return load_dataset(path)


def check_csv(folder: Path) -> str:
    dataset = _load(folder)
    rows, names = dataset.num_rows, dataset.column_names
    if rows != 24 or names != ["name", "email", "age", "visits", "note", "label"]:
        raise AssertionError(f"read {rows} rows and columns {names}, expected 24 rows of 6 columns")
    return f"{rows} rows, {len(names)} columns, format {dataset.format}"


def check_pii(folder: Path) -> str:
    from workbench.core.jobs import drive
    from workbench.core.pii.analyzer import AnalyzerSettings
    from workbench.core.pii.engine import anonymize_table_job
    from workbench.core.pii.policy import ColumnPolicy, ColumnTreatment, Policy

    dataset = _load(folder, rows=6)
    table = dataset.table
    policy = Policy(
        name="selftest",
        columns=(
            ("name", ColumnPolicy(ColumnTreatment.ENTITY, entity_type="PERSON")),
            ("email", ColumnPolicy(ColumnTreatment.ENTITY, entity_type="EMAIL_ADDRESS")),
            ("note", ColumnPolicy(ColumnTreatment.FREE_TEXT)),
        ),
    )
    result = drive(anonymize_table_job(table, policy, workers=1))
    before, after = table.column("note").to_pylist(), result.table.column("note").to_pylist()
    leaked = [n for n in table.column("name").to_pylist() if any(n in text for text in after)]
    if leaked or after == before:
        raise AssertionError(f"{len(leaked)} of {len(before)} names are still in the anonymized notes")
    found = dict(result.entity_counts)
    if found.get("PERSON", 0) < len(before):
        raise AssertionError(f"the model found {found.get('PERSON', 0)} persons, expected at least {len(before)}")
    model = AnalyzerSettings().spacy_model
    counts = ", ".join(f"{k} {v}" for k, v in sorted(found.items()))
    return f"model {model}: replaced {counts}"


def check_dp_step(folder: Path) -> str:
    """One DP-SGD step (Opacus, per-sample clipping and noise) through the bundled MiniLM encoder's last layer and
    a head, then the RDP accountant's epsilon for that step."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    import torch
    from opacus import PrivacyEngine
    from torch.utils.data import DataLoader, TensorDataset

    from workbench.core.train import text_model

    path = text_model.resolve_model_path(None)
    tokenizer = text_model.load_tokenizer(path)
    model = text_model._classifier_class()(text_model.load_encoder(path), 2)
    for p in model.parameters():
        p.requires_grad = False
    trainable = [*model.encoder.encoder.layer[-1].parameters(), *model.classifier.parameters()]
    for p in trainable:
        p.requires_grad = True
    texts = [f"{n} reported {'good' if i % 2 else 'poor'} results" for i, n in enumerate(_FIRST)]
    enc = tokenizer(texts, padding=True, truncation=True, max_length=16, return_tensors="pt")
    labels = torch.tensor([i % 2 for i in range(len(texts))])
    loader = DataLoader(TensorDataset(enc["input_ids"], enc["attention_mask"], labels), batch_size=len(texts))
    torch.manual_seed(0)
    optimizer = torch.optim.SGD(trainable, lr=0.05)
    engine = PrivacyEngine(accountant="rdp")
    model, optimizer, loader = engine.make_private(
        module=model, optimizer=optimizer, data_loader=loader, noise_multiplier=1.0, max_grad_norm=1.0
    )
    before = [p.detach().clone() for p in trainable]
    ids, mask, y = next(iter(loader))
    optimizer.zero_grad()
    loss = torch.nn.functional.cross_entropy(model(input_ids=ids, attention_mask=mask), y)
    loss.backward()
    optimizer.step()
    moved = sum(int(not torch.equal(a, b.detach())) for a, b in zip(before, trainable, strict=True))
    epsilon = engine.get_epsilon(delta=1e-5)
    if moved == 0 or not (0.0 < epsilon < float("inf")):
        raise AssertionError(f"{moved} tensors updated, epsilon {epsilon}")
    return f"loss {float(loss.detach()):.3f}, {moved} tensors updated, epsilon {epsilon:.2f} (RDP, delta 1e-05)"


def check_encrypt(folder: Path) -> str:
    from workbench.core.crypto import kdf
    from workbench.core.crypto.primitives import WrongPassphraseError
    from workbench.core.jobs import drive
    from workbench.services import sharing

    plain, sealed, opened = folder / "plain.bin", folder / "sealed.wbenc", folder / "opened.bin"
    data = os.urandom(300_000)
    plain.write_bytes(data)
    params = kdf.minimum_params()  # the self-test proves the format works; a slow KDF proves nothing more
    drive(sharing.encrypt_with_passphrase_job(plain, sealed, "self-test passphrase", kdf=params))
    if data in sealed.read_bytes():
        raise AssertionError("the encrypted file contains the plaintext")
    summary = drive(sharing.decrypt_with_passphrase_job(sealed, opened, "self-test passphrase"))
    if opened.read_bytes() != data:
        raise AssertionError("the decrypted file differs from the original")
    try:
        drive(sharing.decrypt_with_passphrase_job(sealed, folder / "wrong.bin", "another passphrase"))
    except WrongPassphraseError:
        pass
    else:
        raise AssertionError("a wrong passphrase decrypted the file")
    return f"AES-256-GCM {summary.plaintext_bytes:,} bytes round trip, wrong passphrase refused"


def check_sign(folder: Path) -> str:
    from workbench.core.crypto import sign
    from workbench.core.crypto.keys import PrivateKey
    from workbench.core.crypto.primitives import SignatureError

    key = PrivateKey.generate(name="selftest")
    data = b"privacy workbench self-test " * 100
    signature = sign.sign_bytes(data, key)
    verified = sign.verify_bytes(data, signature, key.public)
    try:
        sign.verify_bytes(data[:-1] + b"!", signature, key.public)
    except SignatureError:
        pass
    else:
        raise AssertionError("a tampered copy verified")
    return f"{key.public.kind}: {verified.describe()}; tampered copy refused"


def check_federation(folder: Path) -> str:
    """One DP round of federated training with two sites, every Flower daemon a process on 127.0.0.1."""
    from workbench.core.jobs import drive
    from workbench.services.federation import federate_simulate_job

    dataset = _load(folder, rows=160)
    job = federate_simulate_job(
        dataset,
        2,
        "tabular",
        "label",
        rounds=1,
        epsilon=8.0,
        secagg=False,
        workdir=folder / "federation",
        batch_size=16,
    )
    result = drive(job)
    epsilons = [e for e in result.site_epsilons.values() if e is not None]
    if result.rounds != 1 or len(epsilons) != 2 or result.val_loss is None:
        raise AssertionError(f"rounds {result.rounds}, site epsilons {result.site_epsilons}")
    return f"2 sites, 1 round, val loss {result.val_loss:.3f}, site epsilon {max(epsilons):.2f}"


CORE_CHECKS: tuple[Check, ...] = (
    Check("csv", check_csv),
    Check("pii", check_pii),
    Check("dp-sgd", check_dp_step),
    Check("encrypt", check_encrypt),
    Check("sign", check_sign),
)
FEDERATION_CHECK = Check("federation", check_federation)


@contextlib.contextmanager
def _isolated_home() -> Iterator[Path]:
    """A temporary folder that is ``WORKBENCH_HOME`` while the checks run (the user's data stays untouched)."""
    saved = {k: os.environ.get(k) for k in ("WORKBENCH_HOME", "HF_HUB_OFFLINE")}
    with tempfile.TemporaryDirectory(prefix="workbench-selftest-") as tmp:
        os.environ["WORKBENCH_HOME"] = str(Path(tmp) / "home")
        os.environ["HF_HUB_OFFLINE"] = "1"
        try:
            yield Path(tmp)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def run_check(check: Check, folder: Path) -> CheckResult:
    started = time.monotonic()
    work = folder / check.name
    work.mkdir()
    try:
        detail = check.run(work)
    except Exception as exc:  # noqa: BLE001 - a failed check is reported, the others still run
        message = str(exc).splitlines()[0] if str(exc) else ""
        return CheckResult(check.name, False, f"{type(exc).__name__}: {message}", time.monotonic() - started)
    return CheckResult(check.name, True, detail, time.monotonic() - started)


def select_checks(checks: Sequence[Check], only: Sequence[str] | None) -> list[Check]:
    if not only:
        return list(checks)
    known = {c.name: c for c in checks}
    unknown = [n for n in only if n not in known]
    if unknown:
        from workbench.core.errors import WorkbenchError

        raise WorkbenchError(f"unknown self-test check {', '.join(unknown)}; the checks are: {', '.join(known)}")
    return [known[n] for n in only]


def summary(results: Sequence[CheckResult]) -> tuple[str, int]:
    """The closing line and the exit status: 0 when every check passed, 1 otherwise."""
    failed = [r.name for r in results if not r.ok]
    total = sum(r.seconds for r in results)
    if failed:
        return f"self-test FAILED: {', '.join(failed)} ({len(failed)} of {len(results)} checks, {total:.1f} s)", 1
    return f"self-test passed: {len(results)} checks in {total:.1f} s", 0


def run_selftest(checks: Sequence[Check], on_result: Callable[[CheckResult], None]) -> list[CheckResult]:
    """Run ``checks`` in order, each in its own empty folder, calling ``on_result`` after each one."""
    results = []
    with _isolated_home() as folder:
        for check in checks:
            result = run_check(check, folder)
            on_result(result)
            results.append(result)
    return results
