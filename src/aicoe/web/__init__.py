"""Page assembly: routing table, templates, static assets (our own CSS/JS), shared API helpers."""
