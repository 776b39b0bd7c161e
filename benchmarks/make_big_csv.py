"""Write a deterministic, synthetic person-data CSV for the loader benchmark.

The default is 1,000,000 rows and about 100 MB: an id, first and last names (some non-ASCII), an e-mail
address, a date of birth, a zip code with leading zeros, a city, an age, an income, a visit count and a short
free-text note. Every value is synthetic: names and words come from small fixed lists and the choices from a
seeded NumPy generator, so the same ``--rows`` and ``--seed`` always give byte-identical files.

Reproduce::

    .venv/bin/python benchmarks/make_big_csv.py --rows 1000000 --out /tmp/big.csv
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

FIRST_NAMES = (
    "Anna", "Ben", "Chloé", "David", "Emma", "Farid", "Greta", "Hugo", "Ines", "Jonas", "Kemal", "Lena",
    "Mateo", "Noah", "Olga", "Pavel", "Quentin", "Rosa", "Sofía", "Tomás", "Ulla", "Viktor", "Wei", "Xenia",
    "Yusuf", "Zoë", "Amélie", "Björn", "Carmen", "Dmitri", "Elif", "François",
)  # fmt: skip
LAST_NAMES = (
    "Müller", "Schmidt", "Dubois", "García", "Rossi", "Novak", "Jansen", "Silva", "Kowalski", "Nielsen",
    "Smith", "Brown", "Wang", "Li", "Yılmaz", "Horvath", "Papadopoulos", "O'Neill", "Andersson", "Moreau",
    "Fischer", "Lefèvre", "Costa", "Ivanova", "Kim", "Nguyen", "Hughes", "Weber", "Bianchi", "Lund",
)  # fmt: skip
CITIES = (
    "Berlin", "Lyon", "Madrid", "Rome", "Prague", "Utrecht", "Porto", "Kraków", "Aarhus", "Leeds",
    "Graz", "Ghent", "Turku", "Cork", "Bergen", "Malmö", "Zürich", "Basel", "Nantes", "Sevilla",
)  # fmt: skip
WORDS = (
    "patient", "reported", "mild", "pain", "after", "visit", "follow", "up", "in", "two", "weeks", "no",
    "change", "stable", "called", "about", "results", "needs", "review", "dose", "adjusted", "feeling",
    "better",
)  # fmt: skip


def make_table(rows: int, seed: int = 20240601) -> pa.Table:
    """Build the synthetic table in memory (vectorized; about a second per million rows)."""
    rng = np.random.default_rng(seed)

    def pick(choices: tuple[str, ...]) -> pa.Array:
        return pa.array(choices).take(pa.array(rng.integers(0, len(choices), rows)))

    ids = pc.binary_join_element_wise(
        "P", pc.utf8_lpad(pc.cast(pa.array(np.arange(1, rows + 1)), pa.string()), 8, "0"), ""
    )
    first = pick(FIRST_NAMES)
    last = pick(LAST_NAMES)
    suffix = pc.cast(pa.array(rng.integers(1, 1000, rows)), pa.string())
    email = pc.binary_join_element_wise(
        pc.utf8_lower(first),
        ".",
        pc.utf8_lower(pc.replace_substring(last, "'", "")),
        suffix,
        "@example.org",
        "",
    )
    dob = pa.array(rng.integers(-20000, 12000, rows).astype("int32")).cast(pa.date32())
    zips = pc.utf8_lpad(pc.cast(pa.array(rng.integers(0, 100000, rows)), pa.string()), 5, "0")
    age = pa.array(rng.integers(18, 95, rows))
    income = pa.array(np.round(rng.gamma(4.0, 12000.0, rows), 2))
    visits = pa.array(rng.poisson(3.0, rows))
    note = pc.binary_join_element_wise(pick(WORDS), pick(WORDS), pick(WORDS), pick(WORDS), " ")
    return pa.table(
        {
            "patient_id": ids,
            "first_name": first,
            "last_name": last,
            "email": email,
            "date_of_birth": dob,
            "zip": zips,
            "city": pick(CITIES),
            "age": age,
            "income": income,
            "visits": visits,
            "note": note,
        }
    )


def write_big_csv(path: Path, rows: int, seed: int = 20240601) -> int:
    """Write the CSV to ``path``; returns its size in bytes."""
    table = make_table(rows, seed)
    pa_csv.write_csv(table, path, write_options=pa_csv.WriteOptions(batch_size=65536, quoting_style="none"))
    return path.stat().st_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="number of data rows (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=20240601, help="random seed (default 20240601)")
    parser.add_argument("--out", type=Path, default=Path("big.csv"), help="output file (default ./big.csv)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    size = write_big_csv(args.out, args.rows, args.seed)
    elapsed = time.perf_counter() - start
    print(f"wrote {args.out} ({args.rows:,} rows, {size / 1e6:.1f} MB) in {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
