"""Sweep jobs beyond eq. 6: functions a grid names with ``job = "tools.jobs.MODULE:FUNCTION"``."""
