"""The import's steps: API → raw layer → normalized tables. Plain Python, no Dagster: the assets
in ``defs/`` call these with their resources and report what they return."""
