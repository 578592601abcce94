"""Policies, versions and attestations."""
