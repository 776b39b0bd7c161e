"""Encryption formats, keys, sharing, signatures, the vault."""
