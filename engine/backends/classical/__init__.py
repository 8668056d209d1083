"""Backends that need no downloads: the default of every kind."""
