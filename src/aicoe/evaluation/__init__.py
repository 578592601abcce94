"""Evaluation runs in the platform: runs of AI systems and models as background jobs, with their reports,
evidence and gate checks."""
