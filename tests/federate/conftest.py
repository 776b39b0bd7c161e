"""Fixtures of the federation tests: a tiny tabular dataset, and one 3-site, 2-round SecAgg+ run with DP shared by
the slow module (Flower daemons on 127.0.0.1; about 2 minutes on 2 cores)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


def tiny_table(rows: int = 450, seed: int = 3) -> Any:
    """A learnable 3-column table with a yes/no label (no real data)."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=rows), rng.normal(size=rows)
    colour = rng.choice(["red", "green", "blue"], rows)
    label = np.where(x1 + 0.5 * x2 + (colour == "red") > 0.3, "yes", "no")
    return pa.table({"x1": x1, "x2": x2, "colour": colour, "outcome": label})


def tiny_dataset(folder: Path, table: Any = None, name: str = "tiny.csv") -> Any:
    import pyarrow.csv as pcsv

    from workbench.core.data.load import load_dataset

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    pcsv.write_csv(tiny_table() if table is None else table, path)
    return load_dataset(path)


SILENT_TIMEOUT = 35.0
"""The shared run's reply timeout (s): above a healthy stage on 2 busy cores (a whole round took ~37 s here), and
what the silent site costs twice (its masked update, then the evaluation of the last round)."""


@dataclass
class FederatedRun:
    result: Any
    progress: list[Any]
    workdir: Path
    home: str


@pytest.fixture(scope="module")
def secagg_run(tmp_path_factory: pytest.TempPathFactory) -> FederatedRun:
    """One 3-site, 2-round SecAgg+ run with DP (epsilon 2 per site), sites keeping their updates for the check;
    site-3 drops out of round 1 after SecAgg+'s key sharing (fault injection), so round 1 aggregates two sites, and
    site-2 goes silent in round 2 at the same point (it hangs): the host waits SILENT_TIMEOUT s per stage, then
    round 2 aggregates site-1 and site-3."""
    from workbench.core.federate.plan import DROP_ENV, SILENT_ENV
    from workbench.services.federation import federate_simulate_job

    home = str(tmp_path_factory.mktemp("fed-home"))
    before = os.environ.get("WORKBENCH_HOME")
    os.environ["WORKBENCH_HOME"] = home
    os.environ[DROP_ENV] = "site-3:1"  # site-3 fails in round 1 right after key sharing; the round must complete
    os.environ[SILENT_ENV] = "site-2:2"  # site-2 hangs in round 2 at the same point; the host must not wait forever
    try:
        work = tmp_path_factory.mktemp("federation")
        ds = tiny_dataset(work / "input")
        progress: list[Any] = []
        gen = federate_simulate_job(
            ds,
            3,
            "tabular",
            "outcome",
            rounds=2,
            epsilon=2.0,
            secagg=True,
            workdir=work / "run",
            record_updates=True,
            hidden=(8,),
            batch_size=32,
            seed=7,
            reply_timeout=SILENT_TIMEOUT,
        )
        while True:
            try:
                progress.append(next(gen))
            except StopIteration as stop:
                result = stop.value
                break
    finally:
        os.environ.pop(DROP_ENV, None)
        os.environ.pop(SILENT_ENV, None)
        if before is None:
            os.environ.pop("WORKBENCH_HOME", None)
        else:
            os.environ["WORKBENCH_HOME"] = before
    return FederatedRun(result, progress, work / "run", home)
