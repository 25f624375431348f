"""A code location whose own code fails on import: the error must name this module."""

raise RuntimeError("BROKEN_LOCATION_SETTING is not set")
