"""Durable background jobs: stored in the database, claimed under a lease, retried with backoff, cancellable.

``registry`` holds the handlers by kind, ``service`` enqueues, lists and cancels, ``runner`` claims and runs.
"""
