"""Runtime hook of the frozen application: before any module is imported, make the offline settings the
defaults (a site can still override each in the environment). Nothing in the frozen folder may reach the network:
Hugging Face loads only local files, and Flower's telemetry and update check stay off."""

import os

for _name, _value in (
    ("HF_HUB_OFFLINE", "1"),
    ("TRANSFORMERS_OFFLINE", "1"),
    ("HF_HUB_DISABLE_TELEMETRY", "1"),
    ("FLWR_TELEMETRY_ENABLED", "0"),
    ("FLWR_DISABLE_UPDATE_CHECK", "1"),
):
    os.environ.setdefault(_name, _value)
