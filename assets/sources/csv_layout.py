"""Which character separates a CSV file's fields, told from its header.

Online Retail is published with commas between fields, but a spreadsheet in much of
Europe re-saves a CSV with ``;`` (the comma being its decimal mark: ``2,55``), and a TSV
export uses tabs. The header tells which: of the separators tried in turn, comma first
(so a comma file reads exactly as it always has), the first that splits the header into
the eight known columns (either UCI layout) is the file's. Only the header decides,
because the column names are known: a sniffer that counts characters in the data rows
can be swayed by Descriptions full of commas, and could guess differently chunk by chunk.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from assets.sources.normalize import map_columns, names_every_field

#: The separators tried, in this order: the comma, then the spreadsheets' exports.
DELIMITERS = (",", ";", "\t", "|")
#: How a message names each separator.
_NAMES = {",": "','", ";": "';'", "\t": "tabs", "|": "'|'"}


@dataclass(frozen=True)
class CsvLayout:
    """A CSV file's header, split at its ``delimiter``."""

    header: list[str]
    delimiter: str = ","

    @property
    def decimal_comma(self) -> bool:
        """Whether the file's numbers may have a decimal comma: in a ``;`` file, the
        convention of the spreadsheets that write one. In a comma file a comma cannot
        sit in an unquoted number; a tab or ``|`` file may come from any locale, where
        ``1,234`` may as well be a thousand, so there a comma stays no number."""
        return self.delimiter == ";"


def header_layout(split: Callable[[str], list[str]], label: str) -> CsvLayout:
    """The layout of the file ``label`` whose header ``split(delimiter)`` returns, split
    at ``delimiter``.

    A header that no separator splits into the known columns is returned split at
    commas, for the reader to refuse as it refuses any header that lacks a column. But
    if another separator splits it into more fields than the comma does, the file
    evidently uses that one: the missing column is named now, among the fields that
    separator gives, so that the error says what the file seems to be, rather than
    blaming its first row for having more commas than its header.
    """
    headers: dict[str, list[str]] = {}
    for delimiter in DELIMITERS:
        header = headers[delimiter] = split(delimiter)
        if names_every_field(header):
            return CsvLayout(header, delimiter)
    seeming = max(DELIMITERS, key=lambda delimiter: len(headers[delimiter]))  # ties: comma
    if seeming != ",":
        found = f"the header seems to separate its fields with {_NAMES[seeming]}, which gives"
        map_columns(headers[seeming], label, found=f"{found} the columns")  # raises
    return CsvLayout(headers[","])
