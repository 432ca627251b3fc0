"""Dagster instance storage as deployed (deploy/dagster.yaml names it); no pipeline code here."""
