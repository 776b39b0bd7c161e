"""presidio_analyzer finds ``conf/default_recognizers.yaml`` through a path relative to its own source file
(``Path(__file__).parent.parent / "conf"``): the package's modules must exist on disk beside that folder, not only
inside the PYZ archive, so they are collected both ways (measured here: ../shared/ENVIRONMENT.md)."""

from PyInstaller.utils.hooks import collect_data_files, copy_metadata

module_collection_mode = "pyz+py"
datas = collect_data_files("presidio_analyzer") + copy_metadata("presidio-analyzer")
