"""Sweep jobs beyond eq. 6 (python -m anw_helpers.sweep GRID.toml)."""
