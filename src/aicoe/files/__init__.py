"""Uploaded files: bytes in a content-addressed store (``store``), metadata and the audit trail in the database
(``service``), type rules with magic-byte sniffing (``types``), and the upload/download API (``api``).
"""
