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


def test_an_asset_module_in_a_folder_without_init_is_declared(shop: Path):
    """A folder of the package without ``__init__.py`` is a namespace package, which
    Python imports as it is (``import shop.marts.facts``): its assets count, in name
    order with the rest. Such a folder's assets were left out with no word."""
    (shop / "shop" / "zeta.py").write_text(sql_asset_module("zeta"))
    (shop / "shop" / "marts" / "daily").mkdir(parents=True)
    (shop / "shop" / "marts" / "facts.py").write_text(sql_asset_module("facts"))
    (shop / "shop" / "marts" / "daily" / "totals.py").write_text(sql_asset_module("totals"))
    assert listed(shop) == ["orders", "totals", "facts", "zeta"]


def test_hidden_folders_and_byte_code_are_not_searched(shop: Path):
    """An editor's or a notebook's copies (``.ipynb_checkpoints``) are no modules."""
    for folder in (".ipynb_checkpoints", "__pycache__"):
        (shop / "shop" / folder).mkdir()
        (shop / "shop" / folder / "big.py").write_text(sql_asset_module("big"))
    result = pipeline_in(shop, "list", "--json")
    assert result.returncode == 0, result.stderr
    assert [row["key"] for row in json.loads(result.stdout)] == ["orders"]
    assert result.stderr == ""


#: Files Python cannot import, whatever the package does, and why each is said not loaded.
UNIMPORTABLE = [
    (
        "v1.2.py",
        "its name 'v1.2' has a '.', which an import reads as a subpackage's: rename it (v1_2.py)",
    ),
    (
        "v2.0/facts.py",
        "its folder's name 'v2.0' has a '.', which an import reads as a subpackage's: "
        "rename the folder (v2_0)",
    ),
    (
        "orders/facts.py",
        "its folder 'orders' is hidden by the module orders.py, which an import finds "
        "first: rename one of them",
    ),
    (
        "big.py",
        "it is hidden by the package big/, which an import finds first: rename one of them",
    ),
]


@pytest.mark.parametrize(("path", "why"), UNIMPORTABLE)
def test_an_asset_module_that_cannot_be_imported_is_said_in_one_line(
    shop: Path, path: str, why: str
):
    """Left out silently, it was: now every command that loads the code location says
    which file was not loaded and why, and ``validate`` (the CI check) fails on it."""
    module = shop / "shop" / path
    module.parent.mkdir(exist_ok=True)
    module.write_text(sql_asset_module("facts"))
    (shop / "shop" / "big").mkdir()
    (shop / "shop" / "big" / "__init__.py").write_text("")
    (shop / "shop" / "notes.1.py").write_text("NOTE = 'no decorator here'\n")  # not said
    said = f"{Path('shop', path)}: not loaded: {why}"

    result = pipeline_in(shop, "list", "--json")
    assert result.returncode == 0, result.stderr
    assert [row["key"] for row in json.loads(result.stdout)] == ["orders"]
    assert result.stderr.splitlines() == [f"warning: {said}"]

    validated = pipeline_in(shop, "validate", "--json")
    assert validated.returncode == 1, validated.stdout + validated.stderr
    found = [f for f in json.loads(validated.stdout) if f["check"] == "module"]
    assert found == [
        {
            "check": "module",
            "asset": None,
            "table": None,
            "column": None,
            "expected": None,
            "found": said,
            "found_full": said,
            "file": str(Path("shop", path)),
            "line": 1,
            "col": None,
        }
    ]
    assert f"[module] {said}" in pipeline_in(shop, "validate").stdout.splitlines()


def test_a_package_whose_asset_modules_none_can_import_says_why_it_declares_none(
    tmp_path: Path,
):
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "__init__.py").write_text(INIT.replace("from shop import orders", "#"))
    (tmp_path / "shop" / "orders.v1.py").write_text(sql_asset_module("orders"))
    (tmp_path / "pyproject.toml").write_text("[tool.pipeline]\ndefinitions = 'shop'\n")
    result = pipeline_in(tmp_path, "list")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: code location module 'shop' declares no assets ({Path('shop', 'orders.v1.py')}: "
        "not loaded: its name 'orders.v1' has a '.', which an import reads as a subpackage's: "
        "rename it (orders_v1.py)): decorate functions in it (or its submodules) with "
        "@asset / @sql_asset, or give it a `defs = Definitions(...)`"
    ]


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
