"""usersnap-pipeline: Usersnap feedback into a warehouse, with Dagster."""
