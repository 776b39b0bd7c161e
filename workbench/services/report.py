"""The compliance report (issue 18): what data was used, what was done to it, what was promised and what was
measured, in one signed document per dataset.

This module builds the report's *content* (facts, tables and plot data; Qt-free) and its HTML, and signs and
verifies the result. Rendering to PDF is done by :mod:`workbench.ui.qt_report_pdf` (Qt's own PDF writer,
offscreen), which both the window and ``workbench report`` call.

What a report is made of, next to ``REPORT.pdf``:

- ``REPORT.html``: the same document as HTML;
- ``REPORT.manifest.json``: the facts (the same as the document's), the SHA-256 of the PDF and of the HTML, the
  audit-log head, the signing key (Ed25519 public key) and a signature over the manifest itself;
- ``REPORT.pdf.sig``: a detached Ed25519 signature over the PDF bytes (hex).

The key is the project's audit key (:mod:`workbench.services.audit`). No dataset value enters a report: names,
fingerprints, roles, counts, parameters and measurements only.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.services.session import ProjectSession

MANIFEST_FORMAT = "privacy-workbench report manifest v1"
_SOFTWARE = ("privacy-workbench", "opacus", "presidio-analyzer", "cryptography", "torch", "PySide6-Essentials")


@dataclass(frozen=True)
class Plot:
    """One line chart: ``series`` is ``(name, xs, ys)`` per line."""

    title: str
    x_label: str
    y_label: str
    series: tuple[tuple[str, tuple[float, ...], tuple[float, ...]], ...]


@dataclass(frozen=True)
class ReportContent:
    title: str
    facts: dict[str, Any]
    plots: tuple[Plot, ...] = field(default=())


def _versions() -> dict[str, str]:
    out = {}
    for name in _SOFTWARE:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _anonymizations(session: ProjectSession, dataset_id: int) -> list[dict[str, Any]]:
    project = session.project
    out = []
    for entry in project.lineage(dataset_id):
        if entry.parent_dataset_id != dataset_id:
            continue
        child = next((d for d in project.datasets() if d.id == entry.child_dataset_id), None)
        detail = dict(entry.detail)
        out.append(
            {
                "operation": entry.operation,
                "output": child.name if child else "(removed)",
                "output_fingerprint": child.fingerprint if child else detail.get("parent_fingerprint"),
                "at": entry.created_at,
                "policy": detail.get("policy_name"),
                "policy_id": detail.get("policy_id"),
                "key_id": detail.get("key_id"),
                "treatments": detail.get("treatments", {}),
                "counts": {k: v for k, v in detail.items() if k not in ("treatments", "parent_fingerprint")},
            }
        )
    return out


def _run_facts(runs: list[Any]) -> list[dict[str, Any]]:
    from workbench.core.train.results import compare_result, non_private_reference

    out = []
    for i, run in enumerate(runs):
        metrics = run.metrics
        val, majority = metrics.get("val_accuracy_final"), metrics.get("majority_baseline")
        comparison = None
        if majority is not None:
            reference = non_private_reference(runs[:i], run.config) if run.private else None
            comparison = compare_result(val, float(majority), private=run.private, reference=reference)
        out.append(
            {
                "run_id": run.id,
                "status": run.status,
                "task": run.task,
                "private": run.private,
                "accountant": run.accountant,
                "target_epsilon": run.target_epsilon,
                "epsilon_spent": run.epsilon,
                "delta": run.delta,
                "noise_multiplier": run.noise_multiplier,
                "sample_rate": run.sample_rate,
                "steps": run.steps,
                "val_accuracy": val,
                "majority_baseline": majority,
                "comparison": comparison,
                "started_at": run.started_at,
                "finished_at": run.finished_at,
            }
        )
    return out


def _plots(runs: list[Any]) -> tuple[Plot, ...]:
    eps, loss = [], []
    for run in runs:
        m = run.metrics
        steps = tuple(float(s) for s in m.get("step", ()))
        if run.private and m.get("epsilon"):
            label = f"run {run.id} ({(run.accountant or '').upper()}, δ={run.delta:g})"
            eps.append((label, steps, tuple(float(v) for v in m["epsilon"])))
        if m.get("loss"):
            loss.append((f"run {run.id}", steps, tuple(float(v) for v in m["loss"])))
    plots = []
    if eps:
        plots.append(Plot("Privacy spent", "optimizer step", "ε spent (accountant, δ per run)", tuple(eps)))
    if loss:
        plots.append(Plot("Training loss", "optimizer step", "loss (not a DP release)", tuple(loss)))
    return tuple(plots)


def _risk_of(session: ProjectSession, record: Any) -> dict[str, Any]:
    """A fresh measurement of ``record`` over its roles (audited as ``risk.computed``, sizes and counts only)."""
    from workbench.services.risk import risk_report

    d = risk_report(session, session.load_dataset(record)).as_dict()
    sample, population = d["sample"], d["population"]
    return {
        "dataset": record.name,
        "quasi_identifiers": d["quasi_identifiers"],
        "k": d["k"],
        "equivalence_classes": d["equivalence_classes"],
        "records": d["records"],
        "average_prosecutor_risk": sample["prosecutor"]["average"],
        "highest_prosecutor_risk": sample["prosecutor"]["highest"],
        "records_at_risk": sample["prosecutor"]["records_at_risk"],
        "risk_threshold": sample["prosecutor"]["threshold"],
        "sample_uniqueness": sample["sample_uniqueness"],
        "population_uniqueness": population.get("dankar"),
        "population_model": f"{population.get('dankar_model')} (Dankar's rule; sampling fraction "
        f"{population.get('sampling_fraction')})",
        "sensitive": [
            {k: m[k] for k in ("column", "distinct_l", "entropy_l", "t_closeness", "t_distance")}
            for m in d["sensitive_measures"]
        ],
    }


def _generalization_of(entry: Any) -> dict[str, Any] | None:
    """What a generalization did (from its lineage record): the target, metric, levels, suppression, loss."""
    if entry is None or entry.operation != "generalize":
        return None
    detail = dict(entry.detail)
    keys = ("target", "metric", "levels", "suppressed_records", "suppression_limit", "information_loss")
    out = {k: detail.get(k) for k in keys}
    if out["target"] is None:  # recorded before targets were: k-anonymity with a suppression limit
        out["target"] = {"k": detail.get("k")}
    return out


def _risk_section(session: ProjectSession, record: Any) -> dict[str, Any] | str:
    """Re-identification risk of the dataset and of its newest derived copy (before / after), measured now over
    the column roles; with what the generalization did when that copy is a generalization."""
    from workbench.core.errors import WorkbenchError

    if "quasi_identifier" not in set(record.roles.values()):
        return "not measured: no column has the quasi-identifier role (set roles on the Data page)"
    children = [e for e in session.project.lineage(record.id) if e.parent_dataset_id == record.id]
    by_id = {d.id: d for d in session.project.datasets()}
    entry = children[-1] if children else None
    try:
        out: dict[str, Any] = {"before": _risk_of(session, record), "after": None, "after_operation": None}
        after = by_id.get(entry.child_dataset_id) if entry is not None else None
        if after is not None and "quasi_identifier" in set(after.roles.values()):
            out["after"] = _risk_of(session, after)
            out["after_operation"] = entry.operation if entry is not None else None
    except WorkbenchError as exc:
        return f"not measured: {exc}"
    out["generalization"] = _generalization_of(entry) if out["after"] is not None else None
    return out


def build_report(session: ProjectSession, dataset_ref: str | int) -> ReportContent:
    """The report of one dataset of the session's project: facts and plot data, no dataset values."""
    from workbench.core.dp.ledger import PrivacyLedger
    from workbench.core.dp.runs import RunStore
    from workbench.services.audit import audit_head

    project = session.project
    record = session.resolve_dataset(dataset_ref)
    runs = sorted(RunStore(project).runs(record.fingerprint), key=lambda r: r.id)
    budget = PrivacyLedger(project, recover=False).summary(record.fingerprint)
    budget_facts = {k: v for k, v in budget.as_dict().items() if k != "fingerprint"}
    facts = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "project": {"name": project.folder.name, "id": project.identity.project_id, "encrypted": session.encrypted},
        "dataset": {
            "name": record.name,
            "id": record.id,
            "fingerprint": record.fingerprint,
            "rows": record.rows,
            "columns": [{"name": n, "type": t, "role": record.roles.get(n, "")} for n, t in record.schema],
        },
        "anonymization": _anonymizations(session, record.id),
        "risk": _risk_section(session, record),
        "privacy_budget": budget_facts,
        "training_runs": _run_facts(runs),
        "federation": None,
        "software": _versions(),
        "audit_log_head": audit_head(session),
    }
    return ReportContent(f"Privacy report: {record.name}", facts, _plots(runs))


# ---- HTML -----------------------------------------------------------------------------------------------------


def _e(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return html.escape(f"{value:.6g}")
    return html.escape(str(value))


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table border='1' cellspacing='0' cellpadding='3'><tr>{head}</tr>{body}</table>"


def _section_runs(runs: list[Mapping[str, Any]]) -> str:
    if not runs:
        return "<p>No training run on this dataset.</p>"
    rows = [
        [
            r["run_id"],
            r["status"],
            "yes" if r["private"] else "NO (no guarantee)",
            r["accountant"],
            r["epsilon_spent"],
            r["target_epsilon"],
            r["delta"],
            r["noise_multiplier"],
            r["sample_rate"],
            r["steps"],
            r["val_accuracy"],
            r["majority_baseline"],
        ]
        for r in runs
    ]
    headers = [
        "run",
        "status",
        "private",
        "accountant",
        "ε spent",
        "ε target",
        "δ",
        "σ",
        "q",
        "steps",
        "val. accuracy",
        "majority",
    ]
    notes = "".join(f"<p>Run {_e(r['run_id'])}: {_e(r['comparison'])}</p>" for r in runs if r["comparison"])
    return _table(headers, rows) + notes


def _counts_html(counts: Mapping[str, Any]) -> str:
    """What the anonymization replaced and kept per entity type, and what its residual check found."""
    replaced, kept = counts.get("entity_counts") or {}, counts.get("kept_counts") or {}
    types = sorted(set(replaced) | set(kept))
    rows = [[t, replaced.get(t, 0), kept.get(t, 0)] for t in types]
    html_text = f"<p>{_e(counts.get('rows'))} rows.</p>" + _table(["entity type", "replaced", "kept"], rows)
    residual = counts.get("residual")
    if isinstance(residual, Mapping):
        html_text += f"<p>Residual check: {_e(residual.get('statement'))}</p>"
    return html_text


def _target_text(target: Mapping[str, Any]) -> str:
    words = [f"k = {target.get('k')}"]
    if target.get("l") is not None:
        words.append(f"{target.get('l_variant', 'distinct')} l = {target['l']}")
    if target.get("t") is not None:
        words.append(f"t = {target['t']}")
    if target.get("average_risk") is not None:
        words.append(f"average risk ≤ {target['average_risk']}")
    return ", ".join(words)


def _generalization_html(g: Mapping[str, Any] | None) -> str:
    if not g:
        return ""
    levels = ", ".join(f"{q} level {lv}" for q, lv in (g.get("levels") or {}).items())
    metric = "non-uniform entropy" if g.get("metric", "entropy") == "entropy" else "loss"
    return (
        f"<p>The copy is a generalization to {_e(_target_text(g.get('target') or {}))}: {_e(levels)}; "
        f"{_e(g.get('suppressed_records'))} records suppressed (at most {_e(g.get('suppression_limit'))}); "
        f"information loss {_e(g.get('information_loss'))} (ARX's {_e(metric)}).</p>"
    )


def _sensitive_html(risk: Mapping[str, Any]) -> str:
    rows = []
    for label, r in (("before", risk["before"]), ("after", risk.get("after"))):
        for m in (r or {}).get("sensitive", []):
            rows.append(
                [label, m["column"], m["distinct_l"], m["entropy_l"], f"{m['t_closeness']:.6g} ({m['t_distance']})"]
            )
    if not rows:
        return ""
    return "<p>Sensitive columns (from the roles):</p>" + _table(
        ["", "column", "distinct l", "entropy l", "t (distance)"], rows
    )


def _risk_html(risk: Any) -> str:
    if not isinstance(risk, dict):
        return f"<p>{_e(risk)}</p>"
    rows = []
    operation = risk.get("after_operation") or "derived"
    for label, r in (("before (this dataset)", risk["before"]), (f"after ({operation}, newest copy)", risk["after"])):
        if r is None:
            rows.append(["after", "—", "no derived copy with quasi-identifier roles", "", "", "", "", ""])
            continue
        rows.append(
            [
                f"{label}: {r['dataset']}",
                r["k"],
                r["equivalence_classes"],
                r["average_prosecutor_risk"],
                r["highest_prosecutor_risk"],
                r["records_at_risk"],
                r["sample_uniqueness"],
                r["population_uniqueness"],
            ]
        )
    qi = risk["before"]["quasi_identifiers"]
    note = (
        f"<p>Measured when the report was built. Quasi-identifiers (from the column roles): {_e(', '.join(qi))}. "
        f"Records at risk: share of records whose prosecutor risk exceeds {_e(risk['before']['risk_threshold'])}. "
        f"Population uniqueness: {_e(risk['before']['population_model'])}.</p>"
    )
    headers = [
        "",
        "k",
        "classes",
        "avg. prosecutor risk",
        "highest risk",
        "records at risk",
        "sample uniqueness",
        "population uniqueness",
    ]
    return note + _table(headers, rows) + _generalization_html(risk.get("generalization")) + _sensitive_html(risk)


def render_html(content: ReportContent, plot_images: Mapping[str, str] | None = None) -> str:
    """The report as one HTML document; ``plot_images`` maps a plot title to an image ``src`` (a data URI)."""
    f = content.facts
    ds, budget = f["dataset"], f["privacy_budget"]
    parts = [
        f"<html><head><meta charset='utf-8'><title>{_e(content.title)}</title></head><body>",
        f"<h1>{_e(content.title)}</h1>",
        f"<p>Generated {_e(f['generated_at'])} · project {_e(f['project']['name'])} ({_e(f['project']['id'])}), "
        f"{'encrypted' if f['project']['encrypted'] else 'not encrypted'}</p>",
        "<h2>Dataset</h2>",
        f"<p>{_e(ds['name'])} · {_e(ds['rows'])} rows · SHA-256 {_e(ds['fingerprint'])}</p>",
        _table(["column", "type", "role"], [[c["name"], c["type"], c["role"]] for c in ds["columns"]]),
        "<h2>Anonymization</h2>",
    ]
    if f["anonymization"]:
        for a in f["anonymization"]:
            parts.append(
                f"<p>{_e(a['operation'])} → {_e(a['output'])} at {_e(a['at'])} with policy {_e(a['policy'])} "
                f"(version {_e(a['policy_id'])}, key {_e(a['key_id'])})</p>"
            )
            parts.append(_table(["column", "treatment"], [[c, t] for c, t in sorted(a["treatments"].items())]))
            parts.append(_counts_html(a["counts"]))
    else:
        parts.append("<p>No anonymized copy of this dataset was made in this project.</p>")
    parts += [
        "<h2>Re-identification risk</h2>",
        _risk_html(f["risk"]),
        "<h2>Privacy budget (basic composition)</h2>",
        _table(
            [
                "total ε",
                "committed ε",
                "committed δ",
                "reserved ε",
                "remaining ε",
                "in other projects ε",
                "RDP-composed ε",
            ],
            [
                [
                    budget["total"],
                    budget["committed"],
                    budget["committed_delta"],
                    budget["reserved"],
                    budget["remaining"],
                    budget["other_projects_epsilon"],
                    budget["rdp_composed_epsilon"],
                ]
            ],
        ),
        "<h2>Training runs</h2>",
        _section_runs(f["training_runs"]),
    ]
    for plot in content.plots:
        src = (plot_images or {}).get(plot.title)
        if src:
            parts.append(f"<h3>{_e(plot.title)}</h3><p><img src='{src}' width='600'></p>")
    head = f["audit_log_head"]
    parts += [
        "<h2>Software</h2>",
        _table(["package", "version"], [[k, v] for k, v in f["software"].items()]),
        "<h2>Audit log</h2>",
        f"<p>Head {_e(head['head'])} (signature: {_e(head['signed'])}, key {_e(head['key_fingerprint'])}, chain "
        f"intact: {_e(head['chain_intact'])}). Check later with <code>workbench audit-log verify --since-head "
        f"{_e(head['head'])}</code>.</p>",
        "</body></html>",
    ]
    return "\n".join(parts)
