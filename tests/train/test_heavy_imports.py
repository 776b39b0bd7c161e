"""Two training jobs starting together must not import transformers from two threads at once.

transformers puts a lazy module in ``sys.modules`` part-way through its own import; a second thread then fails
with ``ImportError: cannot import name 'AutoTokenizer'`` (found by benchmarks/bench_train_gui_lag.py with two text
jobs started together on the Train page). Each check runs in a fresh interpreter, where nothing is imported yet.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("transformers", reason="text training needs transformers")

RACE = textwrap.dedent(
    """
    import json, sys, threading
    import torch  # as in the app: the planning job has imported torch and opacus's accountants
    from workbench.core.dp.accountant import noise_for_epsilon
    from workbench.core.train.text_model import load_encoder, load_tokenizer
    noise_for_epsilon(3.0, 0.01, 1e-5, epochs=1, accountant="rdp")
    assert "transformers" not in sys.modules, "the check needs transformers not yet imported"
    path = sys.argv[1]
    barrier = threading.Barrier(4)
    errors = []
    def go(i):
        barrier.wait()
        try:
            (load_tokenizer if i % 2 else load_encoder)(path)
        except Exception as exc:
            errors.append(type(exc).__name__)
    threads = [threading.Thread(target=go, args=(i,)) for i in range(4)]
    for t in threads: t.start()
    for t in threads: t.join()
    print(json.dumps(errors))
    """
)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):  # noqa: ANN001, ANN201
    from tests.support.models import make_tiny_text_model

    return make_tiny_text_model(tmp_path_factory.mktemp("tiny") / "bert", ["patient", "stable"])


@pytest.mark.parametrize("attempt", range(3))
def test_concurrent_first_loads_of_the_encoder_and_tokenizer(tiny_model, attempt: int) -> None:  # noqa: ANN001
    out = subprocess.run(
        [sys.executable, "-c", RACE, str(tiny_model)], capture_output=True, text=True, timeout=180, check=False
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_modules_already_imported_do_not_wait_for_the_lock() -> None:
    import threading

    from workbench.core.heavy_imports import HEAVY_IMPORT_LOCK, import_serialized

    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with HEAVY_IMPORT_LOCK:
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(5)
        result: list[object] = []
        quick = threading.Thread(target=lambda: result.extend(import_serialized("json", "math")))
        quick.start()
        quick.join(2)
        assert not quick.is_alive() and len(result) == 2, "a fully imported module must not wait for the lock"

        def first_import() -> None:
            try:
                import_serialized("json", "this_module_is_not_there")
            except ImportError:
                result.append("refused after waiting")

        slow = threading.Thread(target=first_import, daemon=True)
        slow.start()
        slow.join(0.3)
        assert slow.is_alive(), "a first import waits its turn"
    finally:
        release.set()
        holder.join(5)
    slow.join(5)
    assert result[-1] == "refused after waiting"
