"""Training in a project through the use case: which columns a model may use, where the checkpoint goes, which rows
it trained on and held out, and how a model is loaded back and exported."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("opacus", reason="training needs torch and opacus")

from tests.support.planted import PASSPHRASE, canary_csv  # noqa: E402
from workbench.core.data.dataset import ColumnRole  # noqa: E402
from workbench.core.dp.runs import RunStore  # noqa: E402
from workbench.core.errors import ProjectError  # noqa: E402
from workbench.core.jobs import drive  # noqa: E402
from workbench.core.project.store import Project  # noqa: E402
from workbench.core.train.tasks import TrainConfig  # noqa: E402
from workbench.services.datasets import add_dataset_job  # noqa: E402
from workbench.services.encryption import encrypt_project_job  # noqa: E402
from workbench.services.opening import open_session  # noqa: E402
from workbench.services.training import (  # noqa: E402
    dataset_roles,
    excluded_columns,
    export_model_job,
    load_checkpoint,
    train_job,
)


def test_direct_identifiers_and_free_text_are_left_out_unless_included() -> None:
    roles = {
        "record_id": ColumnRole.DIRECT_IDENTIFIER,
        "name": "direct_identifier",
        "note": ColumnRole.FREE_TEXT,
        "age": ColumnRole.QUASI_IDENTIFIER,
        "diagnosis": ColumnRole.SENSITIVE,
        "follow_up": ColumnRole.LABEL,
    }
    assert excluded_columns(roles, label="follow_up") == ("record_id", "name", "note")
    assert excluded_columns(roles, label="follow_up", text="note") == ("record_id", "name"), "the text column is read"
    assert excluded_columns(roles, label="follow_up", include=["record_id"]) == ("name", "note")


def _config(**kw: object) -> TrainConfig:
    base = {"task": "tabular", "label_column": "follow_up", "epochs": 1, "batch_size": 16, "learning_rate": 0.01}
    return TrainConfig(**{**base, **kw})  # type: ignore[arg-type]


def test_a_run_records_its_rows_and_columns_and_keeps_its_model(tmp_path: Path) -> None:
    with Project.create(tmp_path / "proj"):
        pass
    src = canary_csv(tmp_path / "intake.csv", rows=120)
    with open_session(tmp_path / "proj") as session:
        ds = drive(add_dataset_job(session, src)).dataset
        excluded = excluded_columns(dataset_roles(session, ds), label="follow_up")
        result = drive(train_job(ds, _config(private=False, excluded_columns=excluded), session=session))
        assert "name" not in result.columns_used and "age" in result.columns_used
        split = RunStore(session.project).rows(result.run_id)
        assert split is not None
        assert (len(split.train_rows), len(split.val_rows)) == (result.train_rows, result.val_rows)
        assert not set(split.train_rows) & set(split.val_rows)
        assert set(split.train_rows) | set(split.val_rows) == set(range(120)), "every labelled row is in one of them"
        run = RunStore(session.project).get(result.run_id)
        assert run.config["columns_used"] == list(result.columns_used)
        assert Path(result.model_path).parent == session.project.data_dir / "models"
        assert load_checkpoint(session, result.run_id)["task"] == "tabular"


def test_an_encrypted_project_keeps_the_model_in_the_vault(tmp_path: Path, fast_kdf) -> None:  # noqa: ANN001
    session, _ = drive(encrypt_project_job(Project.create(tmp_path / "proj"), PASSPHRASE, kdf=fast_kdf))
    with session:
        ds = drive(add_dataset_job(session, canary_csv(tmp_path / "intake.csv", rows=120))).dataset
        result = drive(train_job(ds, _config(private=False), session=session))
        assert result.model_path.startswith("vault:") and not (session.project.data_dir / "models").exists()
        assert load_checkpoint(session, result.run_id)["classes"] == ["no", "yes"]
        with pytest.raises(ProjectError, match="--plaintext"):
            drive(export_model_job(session, result.run_id, tmp_path / "m.pt"))
        drive(export_model_job(session, result.run_id, tmp_path / "m.pt", in_clear=True))
        assert (tmp_path / "m.pt").stat().st_size > 0
        session.vault.lock()
        with pytest.raises(Exception, match="locked"):
            drive(train_job(ds, _config(private=False), session=session))
