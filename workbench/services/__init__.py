"""The use cases of the workbench, each written once, Qt-free: the window's pages and the ``workbench`` command call
these and nothing deeper for a use case.

=========================  ===========================================================================
module                     use cases
=========================  ===========================================================================
``opening``                open a project, unlocking an encrypted one (and finishing an interrupted
                           encryption)
``session``                the open project: find a dataset by name or id, load it (from the vault into
                           memory, or from its file), vault file names and secrets
``datasets``               add a dataset to a project, export a dataset
``anonymize``              anonymize a dataset to a file or into the project (policy, lineage, audit)
``training``               the columns a model may use, train in a project (vault or file checkpoint,
                           rows used recorded), load and export a model
``encryption``             encrypt a project (vault, store, every file it owns), change the passphrase,
                           finish an interrupted encryption
=========================  ===========================================================================

Every use case that changes a project decides vault versus plain file, writes the audit entry and records lineage
here; the secrets of an encrypted project are named by the constants in :mod:`workbench.services.secrets`.
Long use cases are job generators (:mod:`workbench.core.jobs`): they yield progress and poll a cancel token.
"""
