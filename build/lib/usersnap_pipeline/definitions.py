"""The code location: ``dg dev``, ``dg launch`` and workspace.yaml load ``defs`` from here.

Every component instance under ``defs/`` contributes its definitions; the project's own
(``defs/usersnap/defs.yaml``) reads its configuration from the environment, and a missing or
malformed setting stops the load with a message naming what to fix.
"""

from pathlib import Path

import dagster as dg

from . import defs as defs_folder


@dg.definitions
def defs() -> dg.Definitions:
    # Found from the package, not from the nearest pyproject.toml: the same in a checkout and installed.
    return dg.ComponentTree.from_module(defs_module=defs_folder, project_root=Path(__file__).parent.parent).build_defs()
