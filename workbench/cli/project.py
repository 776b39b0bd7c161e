"""`workbench project`: project folders.

Added to the parser by :func:`register`:

    workbench project init DIR
    workbench project encrypt DIR [--kdf SPEC]     passphrase: WORKBENCH_PASSPHRASE or a prompt
    workbench project passphrase DIR               new one: WORKBENCH_NEW_PASSPHRASE or a prompt

Every line goes through :func:`~workbench.cli._common.say`: folder, dataset and file names come from the disk and
are shown with control characters escaped.
"""

from __future__ import annotations

import argparse
from typing import Any

from workbench.cli._common import (
    PASSPHRASE_ENV,
    UsageError,
    drive_with_progress,
    open_session_cli,
    parse_kdf,
    read_passphrase,
    say,
)


def cmd_project_init(args: argparse.Namespace) -> int:
    from workbench.core.project.store import Project

    with Project.create(args.dir) as project:
        say(f"created project {project.folder}")
    return 0


def cmd_project_encrypt(args: argparse.Namespace) -> int:
    from workbench.core.crypto.vault import ProjectVault
    from workbench.core.project.store import Project
    from workbench.services.encryption import ERASURE_NOTE, encrypt_project_job, plan_encryption

    if ProjectVault.exists(args.dir):
        # Encrypted already, or an encryption was interrupted: opening the project finishes it.
        with open_session_cli(args.dir) as session:
            if not session.notes:
                raise UsageError(
                    f"{session.folder} is already encrypted (change its passphrase with: workbench project "
                    "passphrase DIR)"
                )
        return 0
    params = parse_kdf(args.kdf)
    project = Project.open(args.dir)
    try:
        plan = plan_encryption(project)
        say(f"encrypting {project.folder}:")
        for line in plan.lines():
            say(f"  {line}")
        passphrase = read_passphrase("new project passphrase", confirm=True)
    except BaseException:
        project.close()
        raise
    session, report = drive_with_progress(encrypt_project_job(project, passphrase, kdf=params))
    with session:
        say(f"{session.folder} is now encrypted ({report.kdf}): the project store and every file the project owns")
        say(f"are in the vault; datasets added from now on are stored encrypted. {report.summary()}.")
        for path in report.in_clear:
            say(f"still in clear at {path} (registered by a path outside the project; not touched)")
        say(f"note: {ERASURE_NOTE}")
    return 0


def cmd_project_passphrase(args: argparse.Namespace) -> int:
    import os

    from workbench.core.crypto.vault import ProjectVault
    from workbench.services.encryption import change_passphrase
    from workbench.services.opening import open_session

    if not ProjectVault.exists(args.dir):
        raise UsageError(f"{args.dir} is not an encrypted project (encrypt it with: workbench project encrypt DIR)")
    new_env = os.environ.get("WORKBENCH_NEW_PASSPHRASE")
    if os.environ.get(PASSPHRASE_ENV) is not None and not new_env:
        raise UsageError(f"with {PASSPHRASE_ENV} set, give the new passphrase in WORKBENCH_NEW_PASSPHRASE")
    old = read_passphrase("current passphrase", confirm=False)
    if new_env:
        new = new_env
    else:
        import getpass

        new = getpass.getpass("new passphrase: ")
        if getpass.getpass("new passphrase (again): ") != new:
            raise UsageError("the two passphrases differ; nothing was changed")
    with open_session(args.dir, old) as session:
        change_passphrase(session, old, new)
    say("passphrase changed; the data was not re-encrypted")
    return 0


def register(sub: Any) -> None:
    """Add ``project`` and its actions (init, encrypt, passphrase)."""
    p = sub.add_parser("project", help="project folders")
    psub = p.add_subparsers(dest="project_command", metavar="ACTION")
    psub.required = True
    pi = psub.add_parser("init", help="create an empty project folder")
    pi.add_argument("dir")
    pi.set_defaults(func=cmd_project_init)
    pe = psub.add_parser(
        "encrypt",
        help="encrypt a project: its store, the datasets, models and outputs it holds, and everything added later "
        "(passphrase from WORKBENCH_PASSPHRASE or a prompt); run again to finish an interrupted encryption",
    )
    pe.add_argument("dir")
    pe.add_argument(
        "--kdf",
        metavar="SPEC",
        help="key-derivation parameters, e.g. argon2id:m=65536,t=3,p=4 (default: tuned to about 0.5 s here)",
    )
    pe.set_defaults(func=cmd_project_encrypt)
    pp = psub.add_parser("passphrase", help="change an encrypted project's passphrase (no data is re-encrypted)")
    pp.add_argument("dir")
    pp.set_defaults(func=cmd_project_passphrase)
