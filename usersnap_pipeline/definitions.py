"""The code location: ``dg dev``, ``dg launch`` and workspace.yaml load ``defs`` from here.

Every component instance under ``defs/`` contributes its definitions; the project's own
(``defs/usersnap/defs.yaml``) reads its configuration from the environment, and a missing or
malformed setting stops the load with a message naming what to fix.
"""

import functools
import os
from pathlib import Path

import dagster as dg

from . import defs as defs_folder


@dg.definitions
def defs() -> dg.Definitions:
    # Dagster's CLI asks for the definitions twice per process (to find them, then to run them): built
    # once per environment, a run starts a second sooner (bench/README.md).
    return _built(frozenset(os.environ.items()))


@functools.lru_cache(maxsize=4)
def _built(_environment: frozenset) -> dg.Definitions:
    # Found from the package, not from the nearest pyproject.toml: the same in a checkout and installed.
    return dg.ComponentTree.from_module(defs_module=defs_folder, project_root=Path(__file__).parent.parent).build_defs()
