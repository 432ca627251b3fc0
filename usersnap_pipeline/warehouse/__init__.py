"""The warehouse: table definitions and atomic partition writes (SQLite or PostgreSQL)."""

from .store import Warehouse, WarehouseUnavailableError

__all__ = ["Warehouse", "WarehouseUnavailableError"]
