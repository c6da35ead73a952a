"""Fixtures for this area; filled in by its owner."""
