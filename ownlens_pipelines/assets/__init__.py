"""Dagster assets of the OwnLens code location."""
