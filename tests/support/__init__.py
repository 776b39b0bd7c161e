"""Helpers the tests share (not tests, not fixtures): planted values and folder scans, waiting for a Qt job."""
