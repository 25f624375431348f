"""How a column of the wrong type is worded: the type found, and a value only as an example.

Pandera reports most dtype failures once, as the type it found (``int64``), but a date
column's element by element, as the values: the line said "expected date, found
2026-01-01", a value where a type belongs, which reads as if the value were wrong.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from io_managers.validation import validate_pandas


class Orders(pa.DataFrameModel):
    order_date: Series[pa.Date]
    amount: Series[pa.typing.Int32]


def checks_of(frame: pd.DataFrame) -> dict[str | None, str]:
    _, failures = validate_pandas(Orders, frame)
    return {failure.column: failure.check for failure in failures}


def test_a_date_column_read_as_text_names_the_type_found_and_a_value():
    frame = pd.DataFrame({"order_date": ["2026-01-01", "2026-01-02"], "amount": [1, 2]})
    frame["amount"] = frame["amount"].astype("int32")
    assert checks_of(frame) == {
        "order_date": "dtype: expected date, found object (e.g. '2026-01-01')"
    }


def test_a_column_of_another_type_names_the_type_found():
    frame = pd.DataFrame({"order_date": pd.to_datetime(["2026-01-01"]).date, "amount": [1]})
    assert checks_of(frame) == {"amount": "dtype: expected int32, found int64"}
