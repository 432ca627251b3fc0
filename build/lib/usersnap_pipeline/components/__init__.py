"""Dagster components: add the Usersnap import to any Dagster project with a ``defs.yaml``."""

from .usersnap_feedback import UsersnapFeedbackComponent, UsersnapTranslation

__all__ = ["UsersnapFeedbackComponent", "UsersnapTranslation"]
