"""A source in another encoding than UTF-8: Kaggle's copy of Online Retail is Latin-1.

The file is read as the encoding the run names (``--source-encoding``, else
``$ONLINE_RETAIL_SOURCE_ENCODING``, else UTF-8), so its text lands in the warehouse as the
characters it holds; without the option, the one-line error says how to go on.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from assets import DDL_PATHS
from assets.sources import (
    SOURCE_ENCODING_ENV,
    SourceError,
    decoding,
    engine_read,
    read_source,
    resolve_source_encoding,
)
from assets.sources.fingerprint import source_fingerprint
from io_managers import ClickHouseIOManager
from orchestration.context import AssetContext
from orchestration.definitions import load_definitions
from orchestration.text_encoding import shown_encoding, typed_encoding
from tests.test_cli import failure_of

REPO = Path(__file__).resolve().parents[1]
REAL_SAMPLE = REPO / "tests" / "fixtures" / "online_retail_real_sample.csv"
#: Kaggle's data.csv: the old UCI layout.
KAGGLE_HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
ACCENTED = "WHITE MÉTAL LANTERN £"


def sample_lines() -> list[str]:
    """The real sample's data rows under Kaggle's header, one product's description
    accented (in its three rows, the first on line 3)."""
    lines = REAL_SAMPLE.read_text(encoding="utf-8-sig").splitlines()
    assert "WHITE METAL LANTERN" in lines[2]
    return [KAGGLE_HEADER] + [line.replace("WHITE METAL LANTERN", ACCENTED) for line in lines[1:]]


def write(path: Path, lines: Iterable[str], encoding: str, end: str = "\n") -> Path:
    path.write_bytes(("\n".join(lines) + end).encode(encoding))
    return path


@pytest.fixture
def latin1(tmp_path: Path) -> Path:
    return write(tmp_path / "data.csv", sample_lines(), "latin-1")


def descriptions(source: Path | str, **options: str) -> list[str]:
    tables = list(read_source(str(source), **options))  # type: ignore[arg-type]
    return pa.concat_tables(tables).column("Description").to_pylist()


# ------------------------------------------------------------------ reading the text


def test_a_latin1_file_reads_as_the_text_it_holds(latin1: Path) -> None:
    read = descriptions(latin1, encoding="latin-1")
    assert len(read) == 99
    assert read[1] == ACCENTED


def test_any_name_python_knows_for_the_encoding_reads_the_same(latin1: Path) -> None:
    assert descriptions(latin1, encoding="ISO-8859-1") == descriptions(latin1, encoding="cp1252")


def test_utf16_reads_when_named(tmp_path: Path) -> None:
    path = write(tmp_path / "utf16.csv", sample_lines(), "utf-16")
    assert descriptions(path, encoding="utf-16")[1] == ACCENTED


def test_a_latin1_csv_inside_a_zip_reads_too(tmp_path: Path, latin1: Path) -> None:
    archive = tmp_path / "data.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(latin1, "data.csv")
    assert descriptions(archive, encoding="latin-1")[1] == ACCENTED


def test_a_wrapped_latin1_description_is_held_to_the_grammar_and_read(tmp_path: Path) -> None:
    lines = sample_lines()
    lines[2] = lines[2].replace(ACCENTED, '"WHITE MÉTAL\nLANTERN £"')
    path = write(tmp_path / "wrapped.csv", lines, "latin-1")
    assert descriptions(path, encoding="latin-1")[1] == "WHITE MÉTAL\nLANTERN £"


def test_a_quote_never_closed_at_the_end_of_a_latin1_file_is_refused(tmp_path: Path) -> None:
    lines = sample_lines()
    lines[-1] = lines[-1].rsplit(",", 1)[0] + ',"Unitéd Kingdom'
    path = write(tmp_path / "open.csv", lines, "latin-1", end="")
    with pytest.raises(SourceError, match=r"line 100, column 'Country': .* never closed"):
        descriptions(path, encoding="latin-1")


def test_the_warehouse_does_not_read_a_file_in_another_encoding(latin1: Path) -> None:
    """ClickHouse's file() reads UTF-8 only: the Python reader, which transcodes, must."""
    ascii_only = latin1.with_name("ascii.csv")
    ascii_only.write_text(REAL_SAMPLE.read_text(encoding="utf-8-sig"), encoding="latin-1")
    assert engine_read(str(ascii_only)) is not None  # the fast path as before
    assert engine_read(str(ascii_only), encoding="latin-1") is None
    assert engine_read(str(ascii_only), encoding="UTF8") is not None


# ------------------------------------------------------------- the way forward


def test_a_latin1_file_read_as_utf8_suggests_the_option(latin1: Path) -> None:
    with pytest.raises(SourceError) as raised:
        descriptions(latin1)
    message = str(raised.value)
    offset = latin1.read_bytes().index("É".encode("latin-1"))
    assert message == (
        f"{latin1}: not UTF-8 text (byte 0xc9 on line 3, offset {offset}: invalid "
        "continuation byte); if it is Latin-1 (as Kaggle's copy of Online Retail is), pass "
        "--source-encoding latin-1"
    )


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr"])
def test_a_bad_byte_far_down_the_file_is_named_by_its_line(tmp_path: Path, end: str) -> None:
    """Past the header's first read, so the Arrow reader meets it mid-stream; lines end
    as Unix, Windows or an old Mac's "CSV (Macintosh)" export ends them."""
    lines = sample_lines()
    plain = [line.replace(ACCENTED, "WHITE METAL LANTERN") for line in lines[1:]]
    body = plain * 200 + [lines[2]]
    path = tmp_path / "late.csv"
    path.write_bytes(end.join([lines[0], *body, ""]).encode("latin-1"))
    with pytest.raises(SourceError) as raised:
        descriptions(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: not UTF-8 text (byte 0xc9 on line {len(body) + 1}, ")
    assert message.endswith("pass --source-encoding latin-1")
    assert "\n" not in message


def test_a_line_end_split_between_two_reads_is_one_line_end(tmp_path: Path) -> None:
    """The file is decoded a block at a time: a CRLF whose CR ends one block and whose LF
    starts the next ends one line, not two."""
    block = decoding._BLOCK_BYTES
    header = KAGGLE_HEADER + "\r\n"
    filler = "536365,85123A,X,6,12/1/2010 08:26,2.55,17850,United Kingdom\r\n"
    lines = [header] + [filler] * (block // len(filler) + 1)
    text = "".join(lines)
    cut = text.rfind("\r\n", 0, block)  # move one line's end onto the block's edge
    text = text[:cut] + "Y" * (block - 1 - cut) + text[cut:]
    assert text[block - 1 : block + 1] == "\r\n"
    path = tmp_path / "edge.csv"
    path.write_bytes(
        (text + "536366,22633,HAND WARMER \xa3,6,12/1/2010 08:28,1.85,,EIRE\r\n").encode("latin-1")
    )
    found = decoding.first_undecodable(path, "utf-8")
    assert found is not None and found.line == len(lines) + 1


def test_a_utf16_file_read_as_utf8_suggests_utf16(tmp_path: Path) -> None:
    path = write(tmp_path / "utf16.csv", sample_lines(), "utf-16")
    with pytest.raises(SourceError, match=r"UTF-16 .*pass --source-encoding utf-16$"):
        descriptions(path)


def test_a_binary_file_is_not_taken_for_latin1(tmp_path: Path, latin1: Path) -> None:
    path = tmp_path / "data.csv.gz.csv"
    path.write_bytes(gzip.compress(latin1.read_bytes()))
    with pytest.raises(SourceError) as raised:
        descriptions(path)
    assert "is it really a CSV file?" in str(raised.value)
    assert "latin-1" not in str(raised.value)


def test_a_utf8_file_with_its_byte_order_mark_is_not_read_as_latin1() -> None:
    with pytest.raises(SourceError) as raised:
        descriptions(REAL_SAMPLE, encoding="latin-1")
    assert str(raised.value) == (
        f"{REAL_SAMPLE}: the file starts with UTF-8's byte order mark, so it is UTF-8 text, "
        "not latin-1 (iso8859-1); drop --source-encoding (UTF-8 is the default)"
    )


def utf8_named_otherwise(
    path: Path, line: int, text: str, encoding: str = "latin-1 (iso8859-1)"
) -> str:
    return (
        f"{path}: the file is UTF-8 text, not {encoding} (line {line} holds {text!r} read as "
        "UTF-8); drop --source-encoding (UTF-8 is the default)"
    )


@pytest.mark.parametrize("named", ["latin-1", "cp1252"])
def test_a_utf8_file_without_a_byte_order_mark_is_not_read_as_latin1(
    tmp_path: Path, named: str
) -> None:
    """Latin-1 decodes any bytes: read so, 'MÉTAL' would load as 'MÃ‰TAL', silently."""
    path = write(tmp_path / "utf8.csv", sample_lines(), "utf-8")
    with pytest.raises(SourceError) as raised:
        descriptions(path, encoding=named)
    encoding = "latin-1 (iso8859-1)" if named == "latin-1" else named
    assert str(raised.value) == utf8_named_otherwise(path, 3, ACCENTED, encoding)


@pytest.mark.parametrize("separator", [";", "\t", "|"])
def test_a_utf8_file_with_another_separator_names_the_field_not_the_row(
    tmp_path: Path, separator: str
) -> None:
    """The refusal quotes the field that holds the text, whatever separates the fields."""
    lines = [line.replace(",", separator) for line in sample_lines() if '"' not in line]
    path = write(tmp_path / "utf8.csv", lines, "utf-8")
    with pytest.raises(SourceError) as raised:
        descriptions(path, encoding="latin-1")
    assert str(raised.value) == utf8_named_otherwise(path, 3, ACCENTED)


def test_a_utf8_file_of_an_old_mac_names_the_line_of_its_text(tmp_path: Path) -> None:
    """Lines ended by a lone CR (an old Mac's export) are lines too."""
    path = tmp_path / "mac.csv"
    path.write_bytes("\r".join(sample_lines()).encode("utf-8"))
    with pytest.raises(SourceError) as raised:
        descriptions(path, encoding="latin-1")
    assert str(raised.value) == utf8_named_otherwise(path, 3, ACCENTED)


def test_a_character_cut_where_the_look_ends_does_not_hide_utf8(tmp_path: Path) -> None:
    """Only the file's first 64 KiB are looked at: a character across that edge is half
    there, and the half is no reason to take the file for Latin-1."""
    look = 64 << 10
    lines = sample_lines()
    head = ("\n".join(lines[:4]) + "\n").encode()  # line 3: the first non-ASCII text
    plain = "WHITE HANGING HEART T-LIGHT HOLDER"
    pad = look - 1 - len(head) - lines[1].index(plain)
    cut = lines[1].replace(plain, "X" * pad + "£")  # '£' starts on the look's last byte
    path = write(tmp_path / "edge.csv", [*lines[:4], cut, *lines[4:]], "utf-8")
    assert path.read_bytes()[look - 1 : look + 1] == "£".encode()
    with pytest.raises(SourceError) as raised:
        descriptions(path, encoding="latin-1")
    assert str(raised.value) == utf8_named_otherwise(path, 3, ACCENTED)


def test_an_ascii_file_reads_in_any_encoding_it_is_named(tmp_path: Path) -> None:
    ascii_lines = [line.replace(ACCENTED, "WHITE METAL LANTERN") for line in sample_lines()]
    path = write(tmp_path / "ascii.csv", ascii_lines, "ascii")
    assert descriptions(path, encoding="latin-1") == descriptions(path)


def test_bytes_the_named_encoding_lacks_are_named(tmp_path: Path) -> None:
    lines = sample_lines()
    path = write(tmp_path / "cp.csv", lines, "latin-1")
    path.write_bytes(path.read_bytes().replace(b"\xa3", b"\x81"))  # cp1252 has no 0x81
    with pytest.raises(SourceError) as raised:
        descriptions(path, encoding="cp1252")
    message = str(raised.value)
    assert message.startswith(f"{path}: not cp1252 text (byte 0x81 on line 3, ")
    assert "--source-encoding" in message and "\n" not in message


# ------------------------------------------------------------- the setting


def test_the_encoding_comes_from_the_run_then_the_environment_then_utf8(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(SOURCE_ENCODING_ENV, raising=False)
    assert resolve_source_encoding({}) == "utf-8"
    assert resolve_source_encoding({"source_encoding": "UTF-8-SIG"}) == "utf-8"  # BOM allowed
    monkeypatch.setenv(SOURCE_ENCODING_ENV, "")  # as unset, like the other variables
    assert resolve_source_encoding({}) == "utf-8"
    monkeypatch.setenv(SOURCE_ENCODING_ENV, "Latin-1")
    assert resolve_source_encoding({}) == "iso8859-1"
    assert resolve_source_encoding({"source_encoding": "windows-1252"}) == "cp1252"


@pytest.mark.parametrize("name", ["klingon", "base64", "rot13", ""])
def test_an_unknown_encoding_is_refused_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.delenv(SOURCE_ENCODING_ENV, raising=False)
    if name:
        with pytest.raises(SourceError, match=rf"^--source-encoding={name!r}: "):
            resolve_source_encoding({"source_encoding": name})
    monkeypatch.setenv(SOURCE_ENCODING_ENV, name or " ")
    with pytest.raises(SourceError, match=rf"^{SOURCE_ENCODING_ENV}=.{name or ' '}.: "):
        resolve_source_encoding({})


def test_the_encoding_is_part_of_what_the_source_is(
    monkeypatch: pytest.MonkeyPatch, latin1: Path
) -> None:
    """Read in another encoding the same bytes are other text: the raw table is stale."""
    monkeypatch.delenv(SOURCE_ENCODING_ENV, raising=False)
    plain = source_fingerprint({"source": str(latin1)})
    assert plain == source_fingerprint({"source": str(latin1), "source_encoding": "utf-8"})
    assert "encoding=" not in plain  # fingerprints recorded before the option still match
    as_latin1 = source_fingerprint({"source": str(latin1), "source_encoding": "latin-1"})
    assert as_latin1 != plain
    assert as_latin1 == source_fingerprint({"source": str(latin1), "source_encoding": "L1"})
    monkeypatch.setenv(SOURCE_ENCODING_ENV, "latin-1")
    assert source_fingerprint({"source": str(latin1)}) == as_latin1
    # A generator has no encoding.
    assert source_fingerprint({"source": "synthetic:5"}) == "synthetic rows=5 seed=42 version=2"


# ------------------------------------------------------------- into the warehouse


def test_a_latin1_file_lands_in_the_warehouse_as_unicode(tmp_path: Path, latin1: Path) -> None:
    warehouse = ClickHouseIOManager.embedded(tmp_path / "warehouse")
    try:
        warehouse.setup(DDL_PATHS)
        params = {"source": str(latin1), "source_encoding": "latin-1"}
        for spec in load_definitions("assets").graph().select(None):
            context = AssetContext(spec, warehouse, datetime(2024, 3, 1, tzinfo=UTC), params)
            warehouse.materialize(spec, context)
        raw = warehouse.query_arrow(
            "SELECT Description FROM raw.online_retails WHERE StockCode = '71053'"
        ).to_pylist()
        product = warehouse.query_arrow(
            "SELECT * FROM marts.Dim_Product WHERE stock_code = '71053'"
        ).to_pylist()
    finally:
        warehouse.close()
    assert raw == [{"Description": ACCENTED}] * 3
    assert len(product) == 1 and product[0]["description"] == ACCENTED


def test_a_utf8_file_named_latin1_publishes_nothing(tmp_path: Path, latin1: Path) -> None:
    utf8 = write(tmp_path / "utf8.csv", sample_lines(), "utf-8")
    spec = load_definitions("assets").graph()["raw_online_retails"]
    load = datetime(2024, 3, 1, tzinfo=UTC)
    warehouse = ClickHouseIOManager.embedded(tmp_path / "warehouse")
    try:
        warehouse.setup(DDL_PATHS)

        def ingest(source: Path) -> None:
            params = {"source": str(source), "source_encoding": "latin-1"}
            warehouse.materialize(spec, AssetContext(spec, warehouse, load, params))

        def loaded() -> list[dict[str, object]]:
            return warehouse.query_arrow(
                "SELECT Description, count() AS n FROM raw.online_retails "
                "WHERE StockCode = '71053' GROUP BY Description"
            ).to_pylist()

        ingest(latin1)
        assert loaded() == [{"Description": ACCENTED, "n": 3}]
        with pytest.raises(SourceError) as raised:
            ingest(utf8)
        assert str(raised.value) == utf8_named_otherwise(utf8, 3, ACCENTED)
        assert loaded() == [{"Description": ACCENTED, "n": 3}]  # no 'MÃ\x89TAL' beside it
    finally:
        warehouse.close()


# ------------------------------------------------------------- the command line


def pipeline(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestration", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_the_cli_reads_latin1_when_told_and_says_how_when_not(
    tmp_path: Path, latin1: Path, prefect_api_url: str
) -> None:
    env = {**os.environ, "PREFECT_API_URL": prefect_api_url}
    env.pop(SOURCE_ENCODING_ENV, None)
    run = ("materialize", "--select", "raw_online_retails", "--source", str(latin1),
           "--warehouse", f"chdb://{tmp_path / 'wh'}")  # fmt: skip

    refused = pipeline(*run, env=env)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    offset = latin1.read_bytes().index("É".encode("latin-1"))
    said = (
        f"{latin1}: not UTF-8 text (byte 0xc9 on line 3, offset "
        f"{offset}: invalid continuation byte); if it is Latin-1 (as Kaggle's copy of Online "
        "Retail is), pass --source-encoding latin-1"
    )
    assert failure_of(refused.stderr, "raw_online_retails") == said

    read = pipeline(*run, "--source-encoding", "latin-1", env=env)
    assert read.returncode == 0, read.stdout + read.stderr
    query = pipeline(
        "query", "SELECT Description FROM raw.online_retails WHERE StockCode = '71053'",
        "--format", "json", "--warehouse", f"chdb://{tmp_path / 'wh'}", env=env,
    )  # fmt: skip
    assert query.returncode == 0, query.stderr
    assert json.loads(query.stdout) == [{"Description": ACCENTED}] * 3

    def state(*encoding: str) -> str:
        status = pipeline(
            "status", "--select", "raw_online_retails", "--source", str(latin1), *encoding,
            "--json", "--warehouse", f"chdb://{tmp_path / 'wh'}", env=env,
        )  # fmt: skip
        assert status.returncode == 0, status.stderr
        return str(json.loads(status.stdout)[0]["state"])

    assert state("--source-encoding", "ISO-8859-1") == "fresh"
    assert state() == "stale"  # read as UTF-8, the file would be other text


def test_an_unknown_encoding_is_one_line_before_any_work(tmp_path: Path, latin1: Path) -> None:
    warehouse = tmp_path / "wh"
    refused = pipeline(
        "materialize", "--source", str(latin1), "--source-encoding", "klingon",
        "--warehouse", f"chdb://{warehouse}",
        env={**os.environ, "PREFECT_API_URL": "http://127.0.0.1:9/api"},  # never asked
    )  # fmt: skip
    assert refused.returncode == 2
    assert refused.stdout == ""
    lines = refused.stderr.splitlines()
    assert len(lines) == 1, refused.stderr
    assert lines[0].startswith("error: Invalid value for '--source-encoding': 'klingon'")
    assert "Traceback" not in refused.stderr
    assert not warehouse.exists()


def test_validate_samples_a_latin1_source_when_told_and_says_how_when_not(latin1: Path) -> None:
    env = dict(os.environ)
    env.pop(SOURCE_ENCODING_ENV, None)
    sample = ("validate", "--definitions", "assets", "--sample", "--source", str(latin1))

    refused = pipeline(*sample, env=env)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    offset = latin1.read_bytes().index("É".encode("latin-1"))
    assert refused.stdout.splitlines()[0] == (
        f"[sample] asset raw_online_retails table raw.online_retails: {latin1}: not UTF-8 "
        f"text (byte 0xc9 on line 3, offset {offset}: invalid continuation byte); if it is "
        "Latin-1 (as Kaggle's copy of Online Retail is), pass --source-encoding latin-1"
    )

    read = pipeline(*sample, "--source-encoding", "latin-1", env=env)
    assert read.returncode == 0, read.stdout + read.stderr
    assert "schemas, DDL and SQL agree" in read.stdout


def test_validate_refuses_an_encoding_it_would_not_use_or_not_know(latin1: Path) -> None:
    env = dict(os.environ)
    alone = pipeline("validate", "--definitions", "assets", "--source-encoding", "latin-1", env=env)
    assert alone.returncode == 2
    assert alone.stderr.splitlines() == [
        "error: Invalid value for '--source-encoding': it is the encoding of the --sample "
        "run's source; add --sample to validate its content (see 'pipeline validate --help')"
    ]
    unknown = pipeline(
        "validate", "--definitions", "assets", "--sample", "--source", str(latin1),
        "--source-encoding", "klingon", env=env,
    )  # fmt: skip
    assert unknown.returncode == 2
    [line] = unknown.stderr.splitlines()
    assert line.startswith("error: Invalid value for '--source-encoding': 'klingon': not a text")
    assert unknown.stdout == ""


def test_an_encoding_is_said_as_the_user_names_it() -> None:
    """Python names Latin-1 ``iso8859-1``: a refusal naming it so read as another
    encoding than the ``latin-1`` typed; a command to copy gives the name the help does."""
    assert shown_encoding("iso8859-1") == "latin-1 (iso8859-1)"
    assert shown_encoding("iso8859-1", "L1") == "L1 (iso8859-1)"
    assert shown_encoding("cp1252", "windows-1252") == "windows-1252 (cp1252)"
    assert shown_encoding("cp1252") == "cp1252"
    assert typed_encoding("iso8859-1") == "latin-1" and typed_encoding("utf-16") == "utf-16"
