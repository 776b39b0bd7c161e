"""Datasets: loaders, detection, schema and roles, the demo data."""
