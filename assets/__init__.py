"""The Online Retail pipeline as assets: raw -> staging -> Data Vault -> marts -> quality.

Importing this package registers every asset in the default registry (the decorators do
it), one module per layer. ``defs`` is the code location: those assets, the DDL the
warehouse needs first, the warehouse that stores them, and the hook that pushes each
run's outcome to the Pushgateway (``assets.run_outcome``).
"""

from __future__ import annotations

from pathlib import Path

from assets import dashboard, marts, metrics, quality, raw, run_outcome, vault
from io_managers.declared import warehouse_io_manager
from orchestration.definitions import Definitions, assets_declared_in


def _ddl_paths() -> list[Path]:
    """``ddl/init.sql`` beside the package: in a checkout, or installed with the wheel
    (which ships ``ddl/*.sql`` next to the packages in site-packages)."""
    here = Path(__file__).resolve().parent
    for root in (here.parent, here):
        folder = root / "ddl"
        if (folder / "init.sql").is_file():
            return [folder / "init.sql", folder / "metrics.sql"]
    raise FileNotFoundError(f"ddl/init.sql not found next to {here}; reinstall the package")


DDL_PATHS: list[Path] = _ddl_paths()

defs = Definitions(
    assets=assets_declared_in(__name__),
    ddl_paths=DDL_PATHS,
    io_managers={"warehouse": warehouse_io_manager},
    settings_checks=(metrics.check_pushgateway_url,),
    run_hooks=(run_outcome.push_run_outcome,),
)

__all__ = ["DDL_PATHS", "dashboard", "defs", "marts", "metrics", "quality", "raw", "vault"]
