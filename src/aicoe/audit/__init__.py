"""The tamper-evident audit ledger: append, verify, query, export."""
