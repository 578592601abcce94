"""Sensitive-data engine: recognisers with validators, linear-time text scanning, table and file scanning, and
redaction operators. Pure: imports no database, web or CLI code."""
