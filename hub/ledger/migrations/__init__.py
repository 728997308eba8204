"""Alembic scripts of the ledger (a package so that they ship with the distribution)."""
