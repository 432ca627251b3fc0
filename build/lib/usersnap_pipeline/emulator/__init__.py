"""A faithful local Usersnap REST API v0.1 for tests, the demo and the benchmarks. Imports no Dagster."""

from .data import Dataset, generate
from .faults import Faults
from .server import DEFAULT_JWT_ID, DEFAULT_JWT_SECRET, DEFAULT_PORT, Emulator

__all__ = ["DEFAULT_JWT_ID", "DEFAULT_JWT_SECRET", "DEFAULT_PORT", "Dataset", "Emulator", "Faults", "generate"]
