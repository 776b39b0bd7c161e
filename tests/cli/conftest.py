"""The `workbench` command, run as a user would."""
