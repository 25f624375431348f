"""Asset checks of the Online Retail pipeline, keyed by the asset they are attached to.

Each check selects the rows that break a business rule of DESIGN.md section 5 (no rows =
the rule holds). Attach them in the asset decorators with ``checks=CHECKS["<key>"]``; the
vault factory attaches :func:`column_is_unique` to each hub and link key itself.
``error`` checks guard what downstream assets and dashboards rely on (keys that resolve,
unique hub keys, totals that reconcile), so a failure stops the descendants; ``warn``
checks flag data that is poor but usable.

A check reading another table (a dimension, the facts) must only read tables upstream of
its asset, or it may run before that table is rebuilt. ``SETTINGS final = 1`` reads the
ReplacingMergeTree quality tables as merged (one row per date) and leaves other engines be.
"""

from __future__ import annotations

from types import MappingProxyType

from assets.sources import loaded_source_sql
from assets.sql import current_line
from orchestration.checks import AssetCheck, SourceReload

#: Above this share of sale lines without a customer, the customer analyses are unreliable.
MAX_MISSING_CUSTOMER_ID_RATIO = 0.3
#: Float64 sums of Decimal(10, 4) amounts may differ in the last bits; a cent never does.
VOLUME_TOLERANCE = 0.005

#: Fact column -> (dimension table, its key column).
FACT_DIMENSIONS = {
    "product_key": ("marts.Dim_Product", "product_key"),
    "customer_key": ("marts.Dim_Customer", "customer_key"),
    "time_key": ("marts.Dim_Time", "time_key"),
    "country_key": ("marts.Dim_Country", "country_key"),
}


def key_resolves(column: str, dimension: str, dimension_key: str) -> AssetCheck:
    """Every fact row's ``column`` is a key of ``dimension`` (no orphan facts)."""
    return AssetCheck(
        name=f"{column}_resolves",
        sql=(
            f"SELECT sale_id, invoice_no, {column} FROM {{table}}\n"
            f"WHERE {column} NOT IN (SELECT {dimension_key} FROM {dimension})"
        ),
        severity="error",
        description=f"every {column} of the facts is a key of {dimension}",
    )


def column_is_unique(column: str) -> AssetCheck:
    """No two rows share ``column``: an insert-only load must never add a key twice."""
    return AssetCheck(
        name=f"{column}_unique",
        sql=(
            f"SELECT {column}, count() AS copies\n"
            "FROM {table}\n"
            f"GROUP BY {column}\n"
            "HAVING copies > 1"
        ),
        severity="error",
        description=f"{column} identifies one row",
    )


MISSING_CUSTOMER_ID_RATIO = AssetCheck(
    name="missing_customer_id_ratio",
    sql=(
        "SELECT check_date, missing_customer_id_ratio FROM {table}\n"
        "WHERE check_date = (SELECT max(check_date) FROM {table})\n"
        f"AND missing_customer_id_ratio > {MAX_MISSING_CUSTOMER_ID_RATIO}\n"
        "SETTINGS final = 1"
    ),
    severity="warn",
    description=(
        f"at most {MAX_MISSING_CUSTOMER_ID_RATIO:.0%} of the latest check's sale lines "
        "lack a customer id"
    ),
)

#: Days whose volume differs from the facts, and days present on one side only.
SALES_VOLUME_MATCHES_FACTS = AssetCheck(
    name="volume_matches_fact_sales",
    sql=f"""
SELECT
    sales_date,
    summary.volume AS summary_volume,
    facts.volume AS fact_sales_volume
FROM (
    SELECT sales_date, volume, 1 AS present FROM {{table}}
) AS summary
FULL OUTER JOIN (
    SELECT
        moment.date AS sales_date,
        toFloat64(sum(fact.total_amount)) AS volume,
        1 AS present
    FROM marts.Fact_Sales AS fact
    INNER JOIN marts.Dim_Time AS moment ON moment.time_key = fact.time_key
    GROUP BY sales_date
) AS facts USING (sales_date)
WHERE summary.present = 0
   OR facts.present = 0
   OR abs(summary.volume - facts.volume) > {VOLUME_TOLERANCE}
ORDER BY sales_date
SETTINGS final = 1
""",
    severity="error",
    description="each day's sales volume equals the sum of Fact_Sales.total_amount that day",
)


#: The vault tables a fact row joins its line through, besides hub_invoice: a line missing
#: from one of them is in no fact table (the facts' joins are inner joins).
FACT_LINE_SOURCES = (
    "sat_invoice",
    "link_invoice_product",
    "link_invoice_customer",
    "link_invoice_time",
    "link_invoice_country",
)


#: What rebuilds the facts from a vault short of some lines' rows: every vault table loads
#: from staging what it lacks (insert-only: nothing is doubled), then the dimensions (their
#: hubs may be short too), the facts and what is built on them.
REBUILD_FROM_THE_VAULT = "group:vault+"

#: Which of those lines staging cannot give back. It holds the latest load only, so a line
#: a killed run left in the hub alone (its satellite and links never loaded) is restored
#: only by loading its record source again, through staging into the whole vault: the
#: offending line missing from a vault table whose key staging does not hold needs it.
RELOAD_FROM_THE_SOURCE = SourceReload(
    source=(
        "if(missing_from = '' OR sale_id IN "
        "(SELECT hub_invoice_hash_key FROM raw.psa_online_retails), "
        f"'', {loaded_source_sql('record_source')})"
    ),
    select="raw_online_retails+",
)


def lines_reconcile_with_vault(fact: str, kind: str, status: str) -> AssetCheck:
    """The fact table holds exactly the vault's current lines of its ``kind`` (``status``
    in sat_invoice, not an ``A`` invoice, not retracted by a later delivery of its
    invoice), each once: none missing, none extra.

    A reload that skipped the links left the facts short of the new lines while every
    other check passed: they compare the facts with tables built from the facts. The
    check reads only the vault and its own table, as the other fact table may not be
    rebuilt yet when it runs; between them, the two facts' checks place every line. Each
    offending row names its record source first, which says what a rebuild from staging
    cannot restore (:data:`RELOAD_FROM_THE_SOURCE`).
    """
    return AssetCheck(
        name="lines_reconcile_with_vault",
        sql=f"WITH {_lines_agree(status)} AS reconciled\n{_offending_lines(fact, kind, status)}",
        severity="error",
        description=(
            f"{fact} holds every current {kind} line of the vault (not an A line, not "
            "retracted) once, and no other row"
        ),
        rebuilds=REBUILD_FROM_THE_VAULT,
        reloads=RELOAD_FROM_THE_SOURCE,
    )


def _lines_agree(status: str) -> str:
    """Whether the hub and the satellite hold the same lines, and the satellite's current
    lines of ``status`` (not ``A``, not retracted) are the facts': row counts and sums of
    key hashes, four scans of one column or two (~30 ms on 1 M lines; the retracted lines
    are few), so a check that holds costs no anti-join."""
    return f"""(
    SELECT
        hub.lines = sat.lines AND hub.hashes = sat.hashes
        AND fact.lines = sat.our_lines AND fact.hashes = sat.our_hashes
    FROM (
        SELECT
            count() AS lines,
            sum(cityHash64(hub_invoice_hash_key)) AS hashes
        FROM vault.hub_invoice
    ) AS hub
    CROSS JOIN (
        SELECT
            count() AS lines,
            sum(cityHash64(hub_invoice_hash_key)) AS hashes,
            countIf(ours) AS our_lines,
            sumIf(cityHash64(hub_invoice_hash_key), ours) AS our_hashes
        FROM (
            SELECT
                hub_invoice_hash_key,
                ReturnStatus = '{status}'
                    AND hub_invoice_hash_key NOT IN (
                        SELECT hub_invoice_hash_key FROM vault.hub_invoice
                        WHERE startsWith(InvoiceNo, 'A')
                    )
                    AND {current_line("hub_invoice_hash_key", indent=20)} AS ours
            FROM vault.sat_invoice
        )
    ) AS sat
    CROSS JOIN (
        SELECT count() AS lines, sum(cityHash64(sale_id)) AS hashes
        FROM {{table}}
    ) AS fact
)"""


def _offending_lines(fact: str, kind: str, status: str) -> str:
    """The lines that break the rule, each with the source it was loaded from (first: an
    example cut to one line keeps it), what is wrong and the vault tables it is missing
    from (a line in no fact). Read only when ``reconciled`` is false: otherwise both
    sides of the anti-join filter to nothing."""
    other = "return" if kind == "sale" else "sale"
    missing_from = ",\n".join(
        f"""            if(sale_id IN (
                SELECT hub_invoice_hash_key FROM vault.{source}
                WHERE NOT reconciled
            ), '', '{source}')"""
        for source in FACT_LINE_SOURCES
    )
    return f"""SELECT
    line.record_source AS record_source,
    multiIf(
        fact.copies = 0 AND NOT line.described,
        'line in the vault without its sat_invoice row, in no fact table',
        fact.copies = 0,
        '{kind} line in the vault, not in {fact}',
        NOT line.in_vault,
        '{fact} row without its line in vault.hub_invoice',
        line.adjustment, '{fact} row of an A adjustment line',
        line.retracted,
        '{fact} row of a line a later delivery retracted',
        NOT line.ours, '{fact} row of a {other} line',
        concat(
            '{fact} holds the line ',
            toString(fact.copies),
            ' times'
        )
    ) AS problem,
    if(line.in_vault, line.invoice_no, fact.invoice_no) AS invoice_no,
    if(fact.copies > 0, '', arrayStringConcat(arrayFilter(
        name -> name != '',
        [
{missing_from}
        ]
    ), ', ')) AS missing_from,
    sale_id
FROM (
    SELECT
        hub.hub_invoice_hash_key AS sale_id,
        hub.InvoiceNo AS invoice_no,
        hub.RECORD_SOURCE AS record_source,
        startsWith(hub.InvoiceNo, 'A') AS adjustment,
        NOT {current_line("hub.hub_invoice_hash_key", indent=8)} AS retracted,
        sat.described AS described,
        sat.described AND sat.ReturnStatus = '{status}' AS ours,
        1 AS in_vault
    FROM vault.hub_invoice AS hub
    LEFT JOIN (
        SELECT hub_invoice_hash_key, ReturnStatus, 1 AS described
        FROM vault.sat_invoice
    ) AS sat ON sat.hub_invoice_hash_key = hub.hub_invoice_hash_key
    WHERE NOT reconciled
) AS line
FULL OUTER JOIN (
    SELECT sale_id, any(invoice_no) AS invoice_no, count() AS copies
    FROM {{table}}
    WHERE NOT reconciled
    GROUP BY sale_id
) AS fact USING (sale_id)
WHERE if(
    fact.copies > 0,
    fact.copies > 1 OR NOT line.ours OR line.adjustment OR line.retracted,
    NOT line.adjustment AND NOT line.retracted
        AND (line.ours OR NOT line.described)
)
ORDER BY invoice_no, sale_id
SETTINGS join_algorithm = 'full_sorting_merge'
"""


def _fact_checks(fact: str, kind: str, status: str) -> tuple[AssetCheck, ...]:
    return (
        *(
            key_resolves(column, dimension, dimension_key)
            for column, (dimension, dimension_key) in FACT_DIMENSIONS.items()
        ),
        lines_reconcile_with_vault(fact, kind, status),
    )


#: Asset key -> the checks to attach to it.
CHECKS: MappingProxyType[str, tuple[AssetCheck, ...]] = MappingProxyType(
    {
        "fact_sales": _fact_checks("Fact_Sales", "sale", "Normal"),
        "fact_sale_returns": _fact_checks("Fact_Sale_Returns", "return", "Return"),
        "data_quality": (MISSING_CUSTOMER_ID_RATIO,),
        "sales_summary": (SALES_VOLUME_MATCHES_FACTS,),
    }
)
