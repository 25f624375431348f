"""CLI commands kept in their own modules and registered on the app by ``orchestration.cli``."""
