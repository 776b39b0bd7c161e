"""Kill campaign (issue 11): hundreds of seeded kills of decrypt, encrypt, anonymize and add, and what they left.

The harness of ``tests/core/test_kills.py`` with many more points: each point runs one command through the CLI in a
child process (inputs with planted values; the child's TMPDIR is a folder of the campaign) and sends SIGINT,
SIGTERM or SIGKILL (round robin over commands and signals), three times in four at a seeded fraction of the time
the output file is being written (from its first bytes until it is closed, measured once per command), once in
four at a seeded fraction of the whole run. After each kill it checks:

* **plaintext leaks**: files in the output folder, the project or TMPDIR holding a planted value, other than the
  complete, published output of a command that writes plaintext (must be 0);
* **originals damaged**: inputs whose SHA-256 changed (must be 0);
* **projects that failed to open**: ``workbench datasets --project`` failing after a kill of ``add`` (must be 0);
* **complete outputs under the hidden name**: a replaced plaintext output is linked in as ``.NAME.<hex>.partial``
  and renamed over ``NAME`` at once; a SIGKILL between the two leaves the *complete* output under that hidden name
  (not partial plaintext; swept by the next write of ``NAME``). Counted apart;
* **stale partials**: distinct ``.NAME.<hex>.partial`` files seen after a kill, for plaintext outputs (must be 0 on
  Linux, where they have no name) and for ciphertext outputs (allowed after SIGKILL: harmless, swept by the next
  write of the same file); and left after a later successful run of each command (must be 0).

Linux only (it watches ``/proc/PID/fd``). Reproduce::

    .venv/bin/python benchmarks/bench_kill_campaign.py --points 200 --seed 20261202
"""

from __future__ import annotations

import argparse
import collections
import json
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.core.test_kills import (  # noqa: E402 - after the path above
    COMMANDS,
    SEED,
    build_workspace,
    check_after_kill,
    expected_exit,
    interrupted_at_start,
    kill_once,
    kill_points,
    partials,
    rerun_leaves_no_partial,
    second_name,
    sigterm_exit_quirk,
)


def campaign(points: int, seed: int, workdir: Path) -> tuple[collections.Counter[str], list[str]]:
    """Run ``points`` seeded kills in ``workdir``; the counts."""
    started = time.monotonic()
    ws = build_workspace(workdir, add_variants=points // len(COMMANDS) + 1)
    counts: collections.Counter[str] = collections.Counter()
    problems: list[str] = []
    stale: dict[str, set[str]] = {"plaintext": set(), "ciphertext": set(), "complete": set()}
    for number, (command, sig, fraction, anchor) in enumerate(kill_points(points, seed)):
        scn = ws.scenarios[command]
        name = signal.Signals(sig).name
        result = kill_once(scn, ws.env, number, sig, fraction, anchor)
        counts["runs"] += 1
        counts[f"kills {name}"] += 1
        counts[f"kills {command}"] += 1
        counts["landed mid-write"] += result.mid_write
        counts["finished before the signal"] += result.returncode == 0
        counts["interrupted before the CLI started (exit 1)"] += result.returncode == 1 and interrupted_at_start(
            result.stderr
        )
        counts["SIGTERM handled ('terminated') but exit -2 (open, see sigterm_exit_quirk)"] += (
            sig == signal.SIGTERM and sigterm_exit_quirk(result.returncode, result.stderr)
        )
        if not expected_exit(sig, result.returncode, result.stderr):
            counts["unexpected exit codes"] += 1
            problems.append(f"{number} {command} {name}: exit {result.returncode}: {result.stderr.strip()[-1500:]}")
        damage = check_after_kill(scn, ws.env)
        counts["plaintext leaks"] += len(damage.leaks)
        counts["originals damaged"] += len(damage.damaged_inputs)
        counts["projects that failed to open"] += len(damage.failed_opens)
        kind = "plaintext" if scn.target is not None else "ciphertext"
        stale[kind].update(set(damage.stale_partials) - set(damage.hidden_complete))  # distinct: one stays until swept
        stale["complete"].update(damage.hidden_complete)
        problems += [f"{number} {command} {name} {fraction:.2f} of the {anchor}: {what}" for what in
                     damage.leaks + damage.damaged_inputs + damage.failed_opens]  # fmt: skip
    for kind in ("plaintext", "ciphertext"):
        counts[f"stale partials after a kill ({kind} outputs)"] = len(stale[kind])
    counts["complete outputs left under the hidden name (SIGKILL between link and rename)"] = len(stale["complete"])
    left = [path for scn in ws.scenarios.values() for path in rerun_leaves_no_partial(scn, ws.env)]
    left += partials([ws.tmpdir])
    folders = [scn.out_dir for scn in ws.scenarios.values()]
    counts["second names of a published file left (SIGKILL between link and unlink)"] = sum(
        second_name(Path(path)) for path in partials(folders)
    )
    counts["stale partials after a successful rerun"] = len(left)
    problems += [f"left after the rerun: {path}" for path in left]
    counts["seconds"] = round(time.monotonic() - started)
    return counts, problems


MUST_BE_ZERO = (
    "plaintext leaks",
    "originals damaged",
    "projects that failed to open",
    "unexpected exit codes",
    "stale partials after a kill (plaintext outputs)",
    "stale partials after a successful rerun",
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--points", type=int, default=200, help="kill points in all (default 200)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--workdir", type=Path, help="keep the campaign's files here (default: a temporary folder)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not sys.platform.startswith("linux"):
        print("the kill campaign watches /proc: Linux only", file=sys.stderr)
        return 2
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="kill-campaign-"))
    try:
        report = campaign(args.points, args.seed, workdir)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    counts, problems = report
    for key in MUST_BE_ZERO:
        counts.setdefault(key, 0)
    reproduce = f".venv/bin/python benchmarks/bench_kill_campaign.py --points {args.points} --seed {args.seed}"
    if args.json:
        print(json.dumps({"counts": dict(sorted(counts.items())), "problems": problems, "reproduce": reproduce}))
    else:
        print(f"kill campaign: {args.points} points, seed {args.seed}, {counts['seconds']} s")
        for key, value in sorted(counts.items()):
            if key != "seconds":
                print(f"  {key:<50} {value:>5}")
        for line in problems:
            print(f"  PROBLEM {line}")
        print(f"reproduce: {reproduce}")
    return 1 if any(counts[key] for key in MUST_BE_ZERO) else 0


if __name__ == "__main__":
    raise SystemExit(main())
