"""Instructors' and maintainers' tools: not in the installed helper package (run from a clone)."""
