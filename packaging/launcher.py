"""The frozen application's one executable, dispatching on the name it was started under (as busybox does).

``privacy-workbench`` opens the window (``workbench.app.main``); ``workbench`` is the command line
(``workbench.cli.main``); the Flower console scripts (``flower-superlink``, ``flower-supernode``, ``flwr``,
``flower-superexec``, ``flwr-serverapp``, ``flwr-clientapp``...) run Flower's own entry points, read from flwr's
bundled metadata. The frozen folder holds ``workbench`` and each Flower name as a symbolic link to
``privacy-workbench``; the federation puts the folder of ``sys.executable`` first on ``PATH``
(``workbench.core.federate.daemons.flower_env``), so Flower finds its helpers there by name as it does in a venv.

``privacy-workbench --run-tool NAME ARGS...`` does the same without the links (a copy that lost them).
"""

from __future__ import annotations

import multiprocessing
import os
import sys

RUN_TOOL = "--run-tool"


def _console_script(name: str) -> object | None:
    """Flower's entry point named ``name`` (from its metadata), loaded; None when flwr has no such script."""
    from importlib import metadata

    for entry in metadata.entry_points(group="console_scripts"):
        if entry.name == name and entry.dist is not None and entry.dist.name == "flwr":
            return entry.load()
    return None


def main() -> int:
    multiprocessing.freeze_support()  # a spawned child runs its target here and exits
    name = os.path.basename(sys.argv[0])
    if len(sys.argv) > 1 and sys.argv[1] == RUN_TOOL:
        if len(sys.argv) < 3:
            print(f"privacy-workbench: {RUN_TOOL} needs a tool name (workbench, flwr, flower-superlink...)")
            return 2
        name = sys.argv[2]
        sys.argv = [name, *sys.argv[3:]]
    if name == "workbench":
        from workbench.cli import main as cli_main

        return cli_main(sys.argv[1:])
    if name.startswith(("flwr", "flower-")):
        script = _console_script(name)
        if script is None:
            print(f"privacy-workbench: no Flower command named {name!r} in this build", file=sys.stderr)
            return 2
        result = script()  # type: ignore[operator]
        return int(result) if isinstance(result, int) else 0
    from workbench.app import main as app_main

    return app_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
