"""Dagster instance storage as deployed (the top-level dagster.yaml names it); no pipeline code here."""
