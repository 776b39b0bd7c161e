"""The privacy accountant and the privacy-budget ledger."""
