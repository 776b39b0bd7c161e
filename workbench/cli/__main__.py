"""``python -m workbench.cli``: the ``workbench`` command."""

from __future__ import annotations

import sys

if __name__ == "__main__":
    try:
        from workbench.cli import main

        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl+C while Python still imports the command: no traceback, the usual status
        print("workbench: error: interrupted", file=sys.stderr)
        sys.exit(130)
