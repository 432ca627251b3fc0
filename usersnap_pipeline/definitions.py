"""The code location: ``dagster dev`` / workspace.yaml load ``defs`` from here.

Configuration is read once from the environment (see settings.py and the README); a missing or
malformed setting stops the load with a message naming the variable to fix.
"""

from .defs.code_location import build_definitions
from .settings import load_settings

defs = build_definitions(load_settings())
