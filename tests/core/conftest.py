"""The core's cross-cutting pieces: jobs, locks, atomic writes, settings, registries, logging, the shape of the
code."""
