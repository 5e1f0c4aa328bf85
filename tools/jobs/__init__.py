"""Sweep jobs beyond eq. 6 (python -m tools.sweep GRID.toml)."""
