"""tomli (Flower's TOML reader) is compiled with mypyc: its modules import a shared helper extension with a
hashed top-level name (``<hash>__mypyc``) that the import analysis cannot see. Without it every Flower command
fails at start in the frozen folder (``No module named '...__mypyc'``). The name is read from tomli's RECORD."""

from importlib import metadata

hiddenimports = [
    path.name.split(".")[0]
    for path in metadata.files("tomli") or []
    if "/" not in str(path) and "__mypyc" in path.name and path.name.endswith(".so")
]
