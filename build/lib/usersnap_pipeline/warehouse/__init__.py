"""The warehouse: table definitions and atomic partition writes (SQLite or PostgreSQL)."""

from .store import Warehouse

__all__ = ["Warehouse"]
