"""What the Anonymize page says about what an anonymization left in the data: replaced and kept counts, and
(issue 13) the residual check of the preview and of Apply.

Only counts and masked examples are shown; examples appear on hover and are never logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())) or "nothing"


def apply_summary(result: Mapping[str, Any]) -> str:
    """The sentence shown after Apply: where the copy went, what was replaced, what was kept."""
    text = (
        f"Anonymized copy written to {result['location']} and registered in the project (dataset "
        f"{result['dataset_id']}, derived from {result['parent_id']}). Replaced: {_counts(result['entity_counts'])}."
    )
    kept = result.get("kept_counts") or {}
    if kept:
        text += f" Kept as they were (the policy keeps them; they are in the copy): {_counts(kept)}."
    return text
