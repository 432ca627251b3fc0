"""Dagster definitions: thin wrappers that call ``steps`` with resources and report metadata."""
