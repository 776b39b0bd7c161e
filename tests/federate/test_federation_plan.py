"""The federation's plan, the site checks and the refusals that come before any Flower process (fast)."""

from __future__ import annotations

import pytest

from tests.federate.conftest import tiny_dataset, tiny_table


def test_plan_travels_as_json_and_names_what_the_host_learns():
    from workbench.core.federate.plan import FederationPlan
    from workbench.services.federation import make_plan

    plan = make_plan(tiny_table(), task="tabular", label="outcome", rounds=2, epsilon=2.0)
    assert plan.classes == ("no", "yes")
    assert [(f.column, f.kind) for f in plan.features] == [
        ("x1", "numeric"),
        ("x2", "numeric"),
        ("colour", "categorical"),
    ]
    assert plan.inputs == 5
    assert FederationPlan.from_json(plan.to_json()) == plan
    text = plan.describe()
    assert "sum of the sites' weighted model updates" in text and "epsilon 2" in text
    off = make_plan(tiny_table(), task="tabular", label="outcome", rounds=2, epsilon=None, secure_aggregation=False)
    assert "OFF" in off.describe() and "NOT differentially private" in off.describe()


def test_unknown_task_text_without_its_column_and_missing_label_are_refused_when_planning():
    from workbench.core.federate.plan import FederationError
    from workbench.services.federation import make_plan

    with pytest.raises(FederationError, match="tabular and text tasks"):
        make_plan(tiny_table(), task="image", label="outcome", rounds=2, epsilon=2.0)
    with pytest.raises(FederationError, match="needs the text column"):
        make_plan(tiny_table(), task="text", label="outcome", rounds=2, epsilon=2.0)
    with pytest.raises(FederationError, match="no column 'notes'"):
        make_plan(tiny_table(), task="text", label="outcome", rounds=2, epsilon=2.0, text="notes")
    with pytest.raises(FederationError, match="no column 'nope'"):
        make_plan(tiny_table(), task="tabular", label="nope", rounds=2, epsilon=2.0)


def test_split_is_seeded_disjoint_and_complete():
    from workbench.services.federation import split_table

    table = tiny_table(300)
    parts = split_table(table, 3, seed=1)
    assert [p.num_rows for p in parts] == [100, 100, 100]
    again = split_table(table, 3, seed=1)
    assert all(a.equals(b) for a, b in zip(parts, again, strict=True))
    x1 = sorted(v for p in parts for v in p["x1"].to_pylist())
    assert x1 == sorted(table["x1"].to_pylist())
    by = split_table(table, 3, by="colour")
    assert [len(set(p["colour"].to_pylist())) for p in by] == [1, 1, 1]


def test_site_without_the_label_is_refused_before_anything_starts(tmp_path):
    from workbench.core.dp.ledger import PrivacyLedger
    from workbench.core.federate.plan import FederationError
    from workbench.core.project.store import Project
    from workbench.services.federation import SiteInput, federate_sites_job, make_plan
    from workbench.services.session import ProjectSession

    plan = make_plan(tiny_table(), task="tabular", label="outcome", rounds=2, epsilon=2.0, delta=1e-3)
    sites = []
    for i in range(3):
        table = tiny_table(150, seed=i)
        if i == 2:
            table = table.drop_columns(["outcome"])
        session = ProjectSession(Project.create(tmp_path / f"p{i}"))
        ds = tiny_dataset(tmp_path / f"d{i}", table)
        PrivacyLedger(session.project).set_total(ds.fingerprint, 5.0)
        sites.append(SiteInput(f"site-{i}", session, ds))
    work = tmp_path / "work"
    with pytest.raises(FederationError, match="site-2: the dataset has no column 'outcome'"):
        next(federate_sites_job(plan, sites, workdir=work))
    assert not work.exists()  # no folder, no daemon, no reservation
    for site in sites:
        summary = PrivacyLedger(site.session.project).summary(site.dataset.fingerprint, with_rdp=False)
        assert summary.reserved_epsilon == 0.0 and summary.committed_epsilon == 0.0 and summary.runs == 0
        site.session.close()


def test_unknown_label_values_and_missing_columns_are_refused():
    from workbench.core.federate.plan import FederationError, check_site_table
    from workbench.services.federation import make_plan

    plan = make_plan(tiny_table(), task="tabular", label="outcome", rounds=1, epsilon=2.0)
    with pytest.raises(FederationError, match="lacks the plan's feature columns: colour"):
        check_site_table(plan, tiny_table().drop_columns(["colour"]), "s")
    import pyarrow as pa

    odd = tiny_table().set_column(3, "outcome", pa.array(["maybe"] * 450))
    with pytest.raises(FederationError, match="1 value\\(s\\) that are not among the plan's 2 classes"):
        check_site_table(plan, odd, "s")


def test_secagg_needs_as_many_sites_as_shares(tmp_path):
    from workbench.core.federate.plan import FederationError
    from workbench.core.project.store import Project
    from workbench.services.federation import SiteInput, check_sites, make_plan
    from workbench.services.session import ProjectSession

    plan = make_plan(tiny_table(), task="tabular", label="outcome", rounds=1, epsilon=2.0, delta=1e-3)
    sites = [
        SiteInput(f"s{i}", ProjectSession(Project.create(tmp_path / f"p{i}")), tiny_dataset(tmp_path / f"d{i}"))
        for i in range(2)
    ]
    with pytest.raises(FederationError, match="at least 3 sites"):
        check_sites(plan, sites)
    for site in sites:
        site.session.close()


def test_cli_refuses_a_missing_label_in_one_line(tmp_path, capsys):
    from workbench.cli import main

    tiny_dataset(tmp_path)
    code = main(
        [
            "federate",
            "simulate",
            str(tmp_path / "tiny.csv"),
            "--sites",
            "3",
            "--task",
            "tabular",
            "--label",
            "nope",
            "--json",
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "no column 'nope'" in err and err.count("\n") == 1


def test_cli_module_loads_neither_torch_nor_flower():
    import subprocess
    import sys

    code = (
        "import sys; import workbench.cli; workbench.cli.build_parser(); "
        "bad = [m for m in ('torch', 'flwr', 'opacus') if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
