"""A code location that declares no assets: every command must refuse it, not run nothing."""
