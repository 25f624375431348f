"""Every asset module of the code location's package counts, imported by it or not.

As Dagster's ``load_assets_from_package_module``: ``assets_declared_in("shop")`` imports
the package's submodules first, so an asset in ``shop/big.py`` that ``shop/__init__.py``
never imports is declared. It was silently left out: ``pipeline list`` showed the others,
``pipeline validate`` said all agreed, and no run ever built it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_cli import REPO

INIT = """\
from io_managers import warehouse_io_manager
from orchestration.definitions import Definitions, assets_declared_in
from shop import orders  # noqa: F401

defs = Definitions(
    assets=assets_declared_in(__name__), io_managers={"warehouse": warehouse_io_manager}
)
"""


def sql_asset_module(key: str, select: str = "SELECT 1 AS n") -> str:
    return (
        "from orchestration.asset import sql_asset\n\n\n"
        f"@sql_asset(table='shop.{key}')\n"
        f"def {key}(context):\n"
        f"    return {select!r}\n"
    )


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """A project whose package imports ``shop.orders`` and no other module of its own."""
    package = tmp_path / "shop"
    package.mkdir()
    (package / "__init__.py").write_text(INIT)
    (package / "orders.py").write_text(sql_asset_module("orders"))
    (tmp_path / "pyproject.toml").write_text("[tool.pipeline]\ndefinitions = 'shop'\n")
    return tmp_path


def pipeline_in(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``pipeline ARGS`` run in ``project``, imported from there as the console script
    imports it, with this checkout's framework."""
    env = {k: v for k, v in os.environ.items() if k != "PIPELINE_DEFINITIONS"}
    return subprocess.run(
        [sys.executable, "-m", "orchestration", *args],
        cwd=project,
        env={**env, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def listed(project: Path) -> list[str]:
    result = pipeline_in(project, "list", "--json")
    assert result.returncode == 0, result.stderr
    return [row["key"] for row in json.loads(result.stdout)]


def test_an_asset_module_the_package_does_not_import_is_declared(shop: Path):
    (shop / "shop" / "big.py").write_text(sql_asset_module("big"))
    assert listed(shop) == ["orders", "big"]


def test_the_modules_found_are_imported_in_name_order_subpackages_too(shop: Path):
    """After what the package imports itself, so its own order stands; then by name,
    whatever order the file system lists them in."""
    (shop / "shop" / "zeta.py").write_text(sql_asset_module("zeta"))
    (shop / "shop" / "alpha.py").write_text(sql_asset_module("alpha"))
    (shop / "shop" / "marts").mkdir()
    (shop / "shop" / "marts" / "__init__.py").write_text("")
    (shop / "shop" / "marts" / "facts.py").write_text(sql_asset_module("facts"))
    assert listed(shop) == ["orders", "alpha", "facts", "zeta"]


def test_a_module_found_that_fails_to_import_is_one_line_naming_it(shop: Path):
    (shop / "shop" / "big.py").write_text(sql_asset_module("big") + "\nRATE = 1 / 0\n")
    result = pipeline_in(shop, "list")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: {Path('shop', 'big.py')}:8: ZeroDivisionError: division by zero"
    ]


def test_a_module_that_cannot_declare_an_asset_is_not_imported(shop: Path):
    """A module whose text never says ``asset`` uses neither decorator: it is left alone,
    so a helper that imports the data stack costs ``pipeline list`` nothing, and a
    ``__main__`` is never run."""
    (shop / "shop" / "helpers.py").write_text("raise RuntimeError('imported')\n")
    (shop / "shop" / "__main__.py").write_text(
        "from orchestration.asset import asset\n\nraise RuntimeError('run')\n"
    )
    assert listed(shop) == ["orders"]


def test_the_shipped_package_keeps_its_assets_and_their_order():
    """Every module of ``assets`` that declares assets is imported by it already: the
    29 assets are the same, in the same order, and nothing more is imported for them."""
    result = pipeline_in(REPO, "list", "--json")
    assert result.returncode == 0, result.stderr
    assert [row["key"] for row in json.loads(result.stdout)] == SHIPPED


#: ``pipeline list`` of the shipped code location, as it was before discovery.
SHIPPED = [
    *("raw_online_retails", "psa_online_retails"),
    *("hub_invoice", "hub_product", "hub_customer", "hub_time", "hub_country"),
    *("link_invoice_product", "link_invoice_customer", "link_invoice_time"),
    *("link_invoice_country", "dim_customer", "link_customer_country", "sat_invoice"),
    *("sat_product", "dim_product", "sat_time", "dim_time", "sat_country", "dim_country"),
    "sat_invoice_status",
    *("fact_sales", "fact_sale_returns", "anomaly_customer_invoices", "anomaly_invoice"),
    *("data_quality", "sales_summary", "sales_dashboard", "pipeline_metrics"),
]
