"""The ``aicoe`` command line: the root app lives in ``aicoe.cli.main``; shared helpers in ``common``."""
