"""tldextract ships a snapshot of the public-suffix list as package data; the workbench configures it never to
download the list (workbench.core.pii.analyzer.configure_offline), so the snapshot must be in the folder."""

from PyInstaller.utils.hooks import collect_data_files

datas = collect_data_files("tldextract")
