"""Issue 18: every action is in the audit log. Each use case runs once through workbench/services (or the project
method the window and the command both call) on a small planted dataset, and the entry it must leave is asserted:
dataset added, roles changed, policy saved, anonymization applied (with the key it used: its id only), risk
computed, budget change, training run (started, finished, its budget reserved and committed), export (dataset,
model, audit log), decryption (an in-clear export from the vault) and key use (a share names the recipients' key
fingerprints, opening a shared file the private key's). The chain verifies at the end, and no planted value is in
any entry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.planted import CANARY_NAME, CANARY_NOTE, PASSPHRASE, canary_csv
from workbench.core.jobs import drive
from workbench.core.pii.policy import ColumnPolicy, ColumnTreatment, OperatorConfig, Policy
from workbench.core.project.store import Project
from workbench.services.anonymize import anonymize_job, save_policy_version
from workbench.services.audit import export_audit_log, iter_audit_rows, verify_audit_log
from workbench.services.datasets import add_dataset_job, export_dataset_job
from workbench.services.opening import open_session
from workbench.services.session import ProjectSession


def _entries(session: ProjectSession) -> list[tuple[str, dict[str, Any]]]:
    return [(r["action"], json.loads(r["detail_json"])) for r in iter_audit_rows(session)]


def _new(session: ProjectSession, before: int) -> list[tuple[str, dict[str, Any]]]:
    return _entries(session)[before:]


def _one(entries: list[tuple[str, dict[str, Any]]], action: str) -> dict[str, Any]:
    found = [d for a, d in entries if a == action]
    assert len(found) == 1, (action, [a for a, _ in entries])
    return found[0]


def _no_values(session: ProjectSession) -> None:
    text = json.dumps(_entries(session))
    for planted in (CANARY_NAME, CANARY_NOTE, "Xerxes"):
        assert planted not in text, f"a dataset value in the audit log: {planted}"
    verdict = verify_audit_log(session)
    assert verdict.ok, verdict.lines()


def _drop_policy() -> Policy:
    drop = ColumnPolicy(ColumnTreatment.DROP, None, None, "direct_identifier", "direct identifier")
    return Policy(name="drop names").with_column("name", drop).with_column("note", drop)


def test_the_use_cases_of_a_plain_project_are_audited(tmp_path: Path) -> None:
    Project.create(tmp_path / "proj").close()
    with open_session(tmp_path / "proj") as session:
        added = drive(add_dataset_job(session, canary_csv(tmp_path / "intake.csv", rows=60)))
        record = added.record
        registered = _one(_entries(session), "dataset.registered")
        assert registered["dataset_id"] == record.id and registered["fingerprint"] == record.fingerprint

        n = len(_entries(session))
        session.project.set_roles(record.id, {"follow_up": "label", "age": "sensitive"})
        assert _one(_new(session, n), "dataset.roles_changed")["dataset_id"] == record.id

        n = len(_entries(session))
        policy_id = save_policy_version(session, _drop_policy(), record.id)
        assert _one(_new(session, n), "pii_policy.saved")

        n = len(_entries(session))
        outcome = drive(anonymize_job(added.dataset, _drop_policy(), session=session, out=tmp_path / "anon.csv"))
        new = _new(session, n)
        anonymized = _one(new, "dataset.anonymized")
        assert (anonymized["dataset_id"], anonymized["parent_dataset_id"]) == (outcome.dataset_id, record.id)
        assert anonymized["policy_id"] == policy_id and anonymized["rows"] == 60 and anonymized["key_id"] is None
        assert _one(new, "dataset.derived")["operation"] == "anonymize"

        n = len(_entries(session))
        from workbench.services.risk import risk_report

        report = risk_report(session, added.dataset, qi=["age", "sex"], sensitive=["follow_up"])
        risk = _one(_new(session, n), "risk.computed")
        assert (risk["fingerprint"], risk["k"], risk["quasi_identifiers"]) == (
            record.fingerprint,
            report.k,
            ["age", "sex"],
        )

        n = len(_entries(session))
        from workbench.core.dp.ledger import PrivacyLedger

        PrivacyLedger(session.project).set_total(record.fingerprint, 5.0)
        assert _one(_new(session, n), "privacy_budget.set")["total_epsilon"] == 5.0

        n = len(_entries(session))
        drive(export_dataset_job(session, record, tmp_path / "copy.csv"))
        exported = _one(_new(session, n), "dataset.exported")
        assert exported["dataset_id"] == record.id and exported["from_vault"] is False

        n = len(_entries(session))
        export_audit_log(session, tmp_path / "log.json", "json")
        assert _one(_new(session, n), "audit_log.exported")["format"] == "json"
        _no_values(session)


def test_a_training_run_and_its_model_export_are_audited(tmp_path: Path) -> None:
    pytest.importorskip("opacus", reason="training needs torch and opacus")
    import time

    from workbench.core.train.tasks import TrainConfig
    from workbench.services.training import export_model_job, train_job

    Project.create(tmp_path / "proj").close()
    with open_session(tmp_path / "proj") as session:
        ds = drive(add_dataset_job(session, canary_csv(tmp_path / "intake.csv", rows=60))).dataset
        from workbench.core.dp.ledger import PrivacyLedger

        PrivacyLedger(session.project).set_total(ds.fingerprint, 10.0)
        n = len(_entries(session))
        config = TrainConfig(
            task="tabular",
            label_column="follow_up",
            epochs=1,
            batch_size=16,
            learning_rate=0.01,
            excluded_columns=("name", "note", "record_id"),
        )
        started = time.perf_counter()
        result = drive(train_job(ds, config, session=session))
        assert time.perf_counter() - started < 60, "a one-epoch run on 60 rows is quick"
        new = _new(session, n)
        assert _one(new, "training_run.started")["run_id"] == result.run_id
        assert _one(new, "training_run.succeeded")["epsilon"] == pytest.approx(result.epsilon_spent)
        reserved, committed = _one(new, "privacy_budget.reserved"), _one(new, "privacy_budget.committed")
        assert reserved["fingerprint"] == ds.fingerprint and committed["run_id"] == result.run_id

        n = len(_entries(session))
        drive(export_model_job(session, result.run_id, tmp_path / "model.pt"))
        assert _one(_new(session, n), "model.exported")["run_id"] == result.run_id
        record = session.project.dataset_by_fingerprint(ds.fingerprint)
        assert record is not None
        about = {r["action"] for r in iter_audit_rows(session, dataset=record.id)}  # entries naming only the run too
        assert {"dataset.registered", "training_run.succeeded", "privacy_budget.committed", "model.exported"} <= about
        assert not {r["action"] for r in iter_audit_rows(session, dataset=record.id, action="model")} - {
            "model.exported"
        }
        _no_values(session)


def test_decryption_and_key_use_in_an_encrypted_project_are_audited(tmp_path: Path, fast_kdf) -> None:  # noqa: ANN001
    from workbench.services import sharing
    from workbench.services.encryption import encrypt_project_job

    session, _ = drive(encrypt_project_job(Project.create(tmp_path / "proj"), PASSPHRASE, kdf=fast_kdf))
    with session:
        assert _one(_entries(session), "project.encrypted")
        added = drive(add_dataset_job(session, canary_csv(tmp_path / "intake.csv", rows=30)))
        record = added.record
        keys = session.anonymization_keys()
        assert keys is not None
        pseudonym = ColumnPolicy(
            ColumnTreatment.ENTITY, "IDENTIFIER", OperatorConfig.create("pseudonym"), "direct_identifier", "linkable"
        )
        policy = _drop_policy().with_column("name", pseudonym)

        n = len(_entries(session))
        drive(anonymize_job(added.dataset, policy, session=session, keys=keys))
        anonymized = _one(_new(session, n), "dataset.anonymized")
        assert anonymized["key_id"] == keys.key_id and anonymized["in_vault"] is True  # the key's id, never the key

        n = len(_entries(session))
        drive(export_dataset_job(session, record, tmp_path / "clear.csv", in_clear=True))
        exported = _one(_new(session, n), "dataset.exported")
        assert exported["from_vault"] is True and exported["in_clear"] is True  # a decryption, recorded

        pair = sharing.create_key_pair(tmp_path / "keys", "site-b", "a key passphrase", kdf=fast_kdf)
        n = len(_entries(session))
        drive(sharing.share_dataset_job(session, record, tmp_path / "out.pwb", [pair.public_key]))
        shared = _one(_new(session, n), "dataset.shared")
        assert shared["recipients"] == [pair.public_key.fingerprint_text]

        n = len(_entries(session))
        private = sharing.load_private_key(pair.private_path, "a key passphrase")
        drive(sharing.open_shared_job(tmp_path / "out.pwb", private, session=session))
        opened = _one(_new(session, n), "shared.opened")
        assert opened["key"] == pair.public_key.fingerprint_text and opened["source"] == "out.pwb"
        _no_values(session)
