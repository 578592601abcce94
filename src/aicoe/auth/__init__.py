"""Accounts, roles and permissions, sessions, API tokens and the one dependency that checks them."""
