"""A sample compliance report of the demo project, rendered to PNG pages (issue 18).

Makes the demo project in a temporary folder (or uses ``--project``), gives its dataset a budget, trains one
private and one non-private tabular model (tiny: two epochs), anonymizes it with the default policy, writes the
signed report and paints its pages into ``docs/report-sample/`` (``page-1.png``...), then verifies it. Prints how
long building the report took.

    .venv/bin/python scripts/sample_report.py [--out docs/report-sample] [--project DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _workbench(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "workbench.cli", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"workbench {' '.join(args)} failed: {done.stderr.strip()}")


def _prepare(project: Path) -> None:
    _workbench("demo", "--project", str(project))
    _workbench("budget", "--dataset", "1", "--project", str(project), "--set", "5")
    common = ("--dataset", "1", "--project", str(project), "--task", "tabular", "--label", "follow_up", "--epochs", "2")
    _workbench("train", *common, "--no-dp")
    _workbench("train", *common, "--epsilon", "2")
    policy = project / "policy.json"  # the default policy: direct identifiers dropped, quasi-identifiers generalized
    _workbench("policy-template", "--dataset", "1", "--project", str(project), "--out", str(policy))
    _workbench("anonymize", "--dataset", "1", "--project", str(project), "--policy", str(policy))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(ROOT / "docs" / "report-sample"))
    parser.add_argument("--project", help="an existing project (default: a fresh demo project)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("WORKBENCH_HOME", str(Path(tmp) / "home"))
        project = Path(args.project) if args.project else Path(tmp) / "demo"
        if not args.project:
            _prepare(project)
        from workbench.core.jobs import drive
        from workbench.services.opening import open_session
        from workbench.services.report_signing import verify_report
        from workbench.ui.qt_report_pdf import make_report_job, render_pages

        pdf = Path(tmp) / "report.pdf"
        with open_session(project) as session:
            files = drive(make_report_job(session, 1, pdf))
            verdict = verify_report(pdf, session=session)
        for old in out.glob("page-*.png"):
            old.unlink()
        pages = render_pages(files.html.read_text(encoding="utf-8"), out)
        print(f"report built in {files.seconds:.2f} s ({pdf.stat().st_size:,} bytes of PDF, {len(pages)} pages)")
        print(f"verified: {'OK' if verdict.ok else 'NOT OK'}; pages in {out}")


if __name__ == "__main__":
    main()
