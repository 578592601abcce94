"""Pure computation engines: no database, web or CLI imports. They take arrays, tables, text and configuration
and return plain results; the platform's areas call them."""
