"""Shared kit: database, errors, pagination, logging, time. Imports nothing from aicoe's domain packages."""
