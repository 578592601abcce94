"""aicoe: the platform an AI/ML Center of Excellence runs on."""

__version__ = "0.1.0"
