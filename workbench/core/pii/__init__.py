"""PII detection and anonymization (Qt-free core of the PII page and of ``workbench scan/anonymize/pii-eval``).

Modules, each with one job:

``analyzer``
    The offline Presidio analyzer (spaCy model from a package or folder, tldextract offline), cached per
    :class:`~workbench.core.pii.analyzer.AnalyzerSettings`; raw detections, cached per text; worker processes.
``recognizers``
    The workbench's own Presidio recognizers (Chinese resident id and mobile numbers, bank cards with checksums;
    names, places, addresses, titles, ages, ZIP codes, organisations for better recall).
``postprocess``
    Raw detections to final spans: threshold, false-positive filters, allow/deny lists, overlap resolution.
``column_detect``
    Per-column entity type and confidence from the name and a sample of values.
``operators``
    Operator ABC, registry and the operators (keep, redact, replace, mask, keyed_hash, pseudonym, encrypt,
    generalize); decryption (de-anonymize).
``keys``
    :class:`~workbench.core.pii.keys.AnonymizationKeys`, derived from a project's master secret.
``policy``
    The policy (per entity type and per column), JSON import/export with strict validation, project storage.
``engine``
    Anonymize a table as a cancellable job; write CSV/Parquet/JSONL next to the source; register with lineage.
``preview``
    The live preview of the visible rows; newest-request-wins bookkeeping.
``evaluate``
    Precision/recall/F2 of the detector on presidio-research's format.

Importing this package is cheap: Presidio and spaCy are imported when an analyzer is first built.
"""
