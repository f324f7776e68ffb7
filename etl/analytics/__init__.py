"""Hourly and daily analytics: SQL builders and pure transforms used by the Dagster assets."""
