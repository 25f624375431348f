"""Where the warehouse is: WAREHOUSE_URL forms, CLICKHOUSE_* fallback, secret hygiene."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest

from io_managers import (
    WarehouseConfigError,
    load_config,
    parse_warehouse_url,
    warehouse_io_manager,
)

SECRET = "s3cr#t:p@ss/word"
ENCODED_SECRET = "s3cr%23t%3Ap%40ss%2Fword"


def test_chdb_absolute_path():
    config = parse_warehouse_url("chdb:///var/lib/warehouse")
    assert (config.backend, config.path) == ("embedded", Path("/var/lib/warehouse"))


def test_chdb_relative_path_is_resolved_against_the_working_directory(tmp_path):
    config = parse_warehouse_url("chdb://warehouses/retail", base=tmp_path)
    assert config.path == tmp_path / "warehouses" / "retail"


def test_a_relative_path_whose_first_directory_is_one_at_the_root_is_refused(tmp_path):
    """``chdb://tmp/r1/wh2`` (two slashes for three) made a warehouse in ./tmp/r1/wh2,
    inside the project, and every later command with the right URL found none."""
    with pytest.raises(WarehouseConfigError) as raised:
        parse_warehouse_url("chdb://tmp/r1/wh2", base=tmp_path)
    assert str(raised.value) == (
        "the warehouse URL 'chdb://tmp/r1/wh2' names tmp/r1/wh2 in the working directory, "
        "not /tmp/r1/wh2: write chdb:///tmp/r1/wh2 for that one, or chdb://./tmp/r1/wh2 "
        "for one here"
    )
    assert not (tmp_path / "tmp").exists()


def test_a_relative_path_the_working_directory_holds_or_written_from_dot_is_taken(tmp_path):
    assert parse_warehouse_url("chdb://./tmp/wh", base=tmp_path).path == tmp_path / "tmp" / "wh"
    (tmp_path / "tmp").mkdir()
    assert parse_warehouse_url("chdb://tmp/wh", base=tmp_path).path == tmp_path / "tmp" / "wh"


def test_server_url_with_credentials_and_options():
    config = parse_warehouse_url(f"clickhouse://etl:{ENCODED_SECRET}@ch.internal:9440/?secure=true")
    assert config.backend == "server"
    assert (config.host, config.port, config.user) == ("ch.internal", 9440, "etl")
    assert config.password == SECRET
    assert config.secure is True
    assert config.address == "ch.internal:9440"


def test_server_url_defaults_port_by_tls():
    assert parse_warehouse_url("clickhouse://ch").port == 8123
    assert parse_warehouse_url("clickhouses://ch").port == 8443
    assert parse_warehouse_url("clickhouse://ch/?secure=false").secure is False
    assert parse_warehouse_url("clickhouse://ch").user == "default"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgres://db", "scheme 'postgres' is not supported"),
        ("/just/a/path", "has no scheme"),
        ("clickhouse://ch:99999/", "invalid port"),
        ("clickhouse://ch/?secure=maybe", "secure must be true or false"),
        ("clickhouse://ch/?compress=zstd", "unknown option(s) compress"),
        ("clickhouse://:pw@/", "names no host"),
    ],
)
def test_malformed_urls_are_explained(url, message):
    with pytest.raises(WarehouseConfigError) as raised:
        parse_warehouse_url(url)
    assert message in str(raised.value)


def test_a_bare_directory_is_refused_with_the_url_that_names_it(tmp_path):
    with pytest.raises(WarehouseConfigError) as raised:
        load_config(str(tmp_path / "wh"), environ={})
    assert str(raised.value) == (
        f"the warehouse URL '{tmp_path}/wh' has no scheme: write chdb://{tmp_path}/wh for an "
        "embedded warehouse in that directory (forms: chdb:///abs/path, chdb://relative/path, "
        "clickhouse://user:password@host:port/)"
    )


def test_a_bad_url_from_the_environment_is_named_as_warehouse_url(tmp_path):
    with pytest.raises(WarehouseConfigError) as raised:
        load_config(environ={"WAREHOUSE_URL": "wh"}, base=tmp_path)
    assert str(raised.value).startswith("WAREHOUSE_URL 'wh' has no scheme: write chdb://wh ")
    with pytest.raises(WarehouseConfigError) as raised:
        load_config("postgres://db", environ={})
    assert str(raised.value).startswith("the warehouse URL scheme 'postgres' is not supported")


@pytest.mark.parametrize(
    ("query", "rest"),
    [
        ("secure=maybe", "option secure must be true or false, got 'maybe'"),
        ("verify=sure", "option verify must be true or false, got 'sure'"),
        ("connect_timeout=0", "option connect_timeout must be positive, got '0'"),
        ("send_receive_timeout=5m", "option send_receive_timeout must be a number of seconds"),
    ],
)
def test_a_bad_option_value_names_the_url_it_is_in(tmp_path, query, rest):
    # "secure must be true or false" alone left the reader to find where secure was set.
    url = f"clickhouse://etl:{quote(SECRET, safe='')}@ch:8123/?{query}"
    with pytest.raises(WarehouseConfigError) as raised:
        load_config(environ={"WAREHOUSE_URL": url}, base=tmp_path)
    assert str(raised.value).startswith(f"WAREHOUSE_URL {rest}")
    with pytest.raises(WarehouseConfigError) as raised:
        load_config(url, environ={})
    assert str(raised.value).startswith(f"the warehouse URL {rest}")
    assert SECRET not in str(raised.value)


def test_a_scheme_less_url_with_credentials_is_not_echoed():
    with pytest.raises(WarehouseConfigError) as raised:
        parse_warehouse_url(f"etl:{SECRET}@ch.internal:8123")
    assert SECRET not in str(raised.value)
    assert "has no scheme" in str(raised.value)


def test_warehouse_url_wins_over_clickhouse_variables(tmp_path):
    env = {"WAREHOUSE_URL": "chdb://wh", "CLICKHOUSE_HOST": "ch.internal"}
    assert load_config(environ=env, base=tmp_path).path == tmp_path / "wh"


def test_clickhouse_variables_select_a_server():
    env = {
        "CLICKHOUSE_HOST": "ch.internal",
        "CLICKHOUSE_PORT": "18123",
        "CLICKHOUSE_USER": "etl",
        "CLICKHOUSE_PASSWORD": SECRET,
        "CLICKHOUSE_SECURE": "true",
    }
    config = load_config(environ=env)
    assert (config.host, config.port, config.user, config.secure) == (
        "ch.internal",
        18123,
        "etl",
        True,
    )
    assert config.password == SECRET


def test_explicit_url_wins_over_environment(tmp_path):
    config = load_config("chdb:///explicit", environ={"WAREHOUSE_URL": "chdb://env"}, base=tmp_path)
    assert config.path == Path("/explicit")


def test_default_is_the_embedded_warehouse_in_dot_warehouse(tmp_path):
    config = load_config(environ={}, base=tmp_path)
    assert (config.backend, config.path) == ("embedded", tmp_path / ".warehouse")


def test_password_never_appears_in_repr_str_or_redacted_url():
    config = parse_warehouse_url(f"clickhouse://etl:{ENCODED_SECRET}@ch:8123/")
    for text in (repr(config), str(config), config.redacted_url, f"{config}", f"{config!r}"):
        assert SECRET not in text
        assert ENCODED_SECRET not in text
    assert config.redacted_url == "clickhouse://etl:***@ch:8123/?secure=false"


@pytest.mark.parametrize(
    ("url", "fixed"),
    [
        ("chdb:/tmp/wh", "chdb:///tmp/wh"),
        ("chdb:wh", "chdb://wh"),
        ("CHDB:/tmp/wh", "chdb:///tmp/wh"),
        ("clickhouse:ch.internal:8123", "clickhouse://ch.internal:8123"),
    ],
)
def test_a_scheme_without_its_slashes_is_told_the_url_it_meant(url, fixed):
    # 'chdb:/tmp/wh' was told "has no scheme: write chdb://chdb:/tmp/wh": a URL that is
    # wrong twice over, for a typo of two slashes.
    with pytest.raises(WarehouseConfigError) as raised:
        parse_warehouse_url(url)
    assert str(raised.value) == (
        f"the warehouse URL {url!r} is missing '//' after its scheme: write {fixed}"
    )


def test_a_scheme_without_its_slashes_and_with_credentials_is_not_echoed():
    with pytest.raises(WarehouseConfigError) as raised:
        parse_warehouse_url(f"clickhouse:etl:{SECRET}@ch.internal:8123")
    assert str(raised.value) == "the warehouse URL is missing '//' after its scheme 'clickhouse'"


def test_a_declared_warehouse_names_its_location_without_credentials_or_options():
    """What an asset page and the run's lineage say the run wrote (``IOManager.location``):
    pages are shown to everyone with access to the Prefect UI, so a server is named by
    scheme, host and port, never by its user, password or options. Naming it opens
    nothing (no engine started, no server dialled)."""
    server = warehouse_io_manager(
        f"clickhouse://etl:{ENCODED_SECRET}@ch.internal:9440/?secure=true&verify=false"
    )
    assert server.location() == "clickhouses://ch.internal:9440/"  # TLS stays visible
    plain = warehouse_io_manager(f"clickhouse://etl:{ENCODED_SECRET}@ch.internal:8123")
    assert plain.location() == "clickhouse://ch.internal:8123/"
    embedded = warehouse_io_manager("chdb:///srv/warehouse-a")
    assert embedded.location() == "chdb:///srv/warehouse-a"
    assert embedded.missing_storage() is not None  # not created by being named
