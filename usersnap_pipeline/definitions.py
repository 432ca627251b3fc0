"""The code location: ``dg dev``, ``dg launch`` and deploy/workspace.yaml load ``defs`` from here.

Every component instance under ``defs/`` contributes its definitions; the project's own
(``defs/usersnap/defs.yaml``) renders its attributes from the environment through ``{{ env.X }}``
templates, and a missing or malformed one stops the load with a line naming the file, line and attribute.
"""

import functools
import os
from pathlib import Path

import dagster as dg

from . import defs as defs_folder
from .components import UsersnapFeedbackComponent


@dg.definitions
def defs() -> dg.Definitions:
    # Dagster's CLI asks for the definitions twice per process (to find them, then to run them): built
    # once per environment, a run starts a second sooner (bench/README.md).
    return _tree(frozenset(os.environ.items())).build_defs()


def project_component() -> UsersnapFeedbackComponent:
    """The project's own instance, its attributes rendered from the current environment."""
    return _tree(frozenset(os.environ.items())).load_component("usersnap", UsersnapFeedbackComponent)


@functools.lru_cache(maxsize=4)
def _tree(_environment: frozenset) -> dg.ComponentTree:
    # Found from the package, not from the nearest pyproject.toml: the same in a checkout and installed.
    return dg.ComponentTree.from_module(defs_module=defs_folder, project_root=Path(__file__).parent.parent)
