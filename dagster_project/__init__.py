"""Dagster code location of vidsight: thin assets over the pure transforms in ``etl``."""
