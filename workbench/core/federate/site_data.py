"""A site's rows as model inputs, encoded with the plan's schema and the site's own statistics.

Numeric and date columns are standardized with the mean and standard deviation of the site's own training rows
(missing values become the mean); categorical columns are one-hot over the plan's categories (an unknown or
missing value is all zeros); a text column becomes the sentence embeddings of a frozen local encoder
(:mod:`.text_features`). The split into training and validation rows is seeded and stays at the site.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.core.federate.plan import FederationError, FederationPlan, check_site_table

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass(frozen=True, slots=True)
class SiteArrays:
    """A site's encoded rows (numpy float32 features, int64 class indices)."""

    x_train: Any
    y_train: Any
    x_val: Any
    y_val: Any

    @property
    def train_rows(self) -> int:
        return int(self.y_train.shape[0])

    @property
    def val_rows(self) -> int:
        return int(self.y_val.shape[0])


def _text_block(plan_feature: Any, values: list[Any]) -> Any:
    from workbench.core.federate.text_features import embed_texts, encoder_path, encoder_width

    path = encoder_path(None)
    if encoder_width(path) != plan_feature.dims:
        raise FederationError(
            f"this site's text encoder makes {encoder_width(path)} numbers per text, the plan's {plan_feature.dims}: "
            "install the encoder the plan names"
        )
    return embed_texts(values, path)


def _column_block(plan_feature: Any, values: list[Any], train_idx: Any) -> Any:
    import numpy as np
    import pandas as pd

    if plan_feature.kind == "text":
        return _text_block(plan_feature, values)
    if plan_feature.kind == "categorical":
        index = {c: i for i, c in enumerate(plan_feature.categories)}
        block = np.zeros((len(values), len(index)), dtype=np.float32)
        for row, v in enumerate(values):
            j = index.get(str(v)) if v is not None else None
            if j is not None:
                block[row, j] = 1.0
        return block
    if plan_feature.kind == "date":
        dates = pd.to_datetime(pd.Series(values, dtype="object").astype("string"), format="ISO8601", errors="coerce")
        numbers = ((dates - pd.Timestamp("1970-01-01")).dt.days).to_numpy(float)
    else:
        numbers = pd.to_numeric(pd.Series(values, dtype="object"), errors="coerce").to_numpy(float)
    train = numbers[train_idx]
    finite = train[np.isfinite(train)]
    mean = float(finite.mean()) if finite.size else 0.0
    std = (float(finite.std()) if finite.size else 1.0) or 1.0
    filled = np.where(np.isfinite(numbers), numbers, mean)
    return ((filled - mean) / std).astype(np.float32)[:, None]


def _split_sizes(plan: FederationPlan, n: int, site: str) -> int:
    val = max(1, round(n * plan.val_fraction))
    if n - val < 2:
        raise FederationError(f"{site}: too few labelled rows ({n}) to train and validate")
    return val


def train_rows(plan: FederationPlan, table: pa.Table, site: str = "this site") -> int:
    """How many rows the site trains on (the checks of :func:`encode_site` without encoding anything: a text
    column's embeddings are computed only where the site trains)."""
    check_site_table(plan, table, site)
    n = table.num_rows - table[plan.label].null_count
    return n - _split_sizes(plan, n, site)


def encode_site(plan: FederationPlan, table: pa.Table, site: str = "this site") -> SiteArrays:
    """The site's labelled rows encoded for the plan's model, split (seeded) into training and validation."""
    import numpy as np

    check_site_table(plan, table, site)
    table = table.filter(table[plan.label].is_valid())
    n = table.num_rows
    val = _split_sizes(plan, n, site)
    order = np.random.default_rng(plan.seed).permutation(n)
    train_idx, val_idx = np.sort(order[val:]), np.sort(order[:val])
    blocks = [_column_block(f, table[f.column].to_pylist(), train_idx) for f in plan.features]
    x = np.concatenate(blocks, axis=1).astype(np.float32)
    index = {c: i for i, c in enumerate(plan.classes)}
    y = np.array([index[str(v)] for v in table[plan.label].to_pylist()], dtype=np.int64)
    return SiteArrays(x[train_idx], y[train_idx], x[val_idx], y[val_idx])
