-- Online Retail warehouse: raw -> persistent staging -> Data Vault 2.0 -> marts -> quality.
--
-- Idempotent: every statement is IF NOT EXISTS, so running this file again changes nothing.
-- Table and column names are the original system's (dashboards depend on them); types are
-- DESIGN.md's appendix. Every deviation is marked "CHANGED:" with its reason and listed in
-- docs/data_model.md. Rows are inserted by column NAME; the order still matters, because
-- the Pandera schemas are ordered and `pipeline validate` expects each SELECT in this order.

CREATE DATABASE IF NOT EXISTS raw;
CREATE DATABASE IF NOT EXISTS vault;
CREATE DATABASE IF NOT EXISTS marts;
CREATE DATABASE IF NOT EXISTS quality;

-- ---------------------------------------------------------------------------------------
-- raw
-- ---------------------------------------------------------------------------------------

-- The latest source as loaded. InvoiceDate holds the source's timestamp normalised at
-- ingest to ISO 'YYYY-MM-DD HH:MM:SS' (the loader is the only place that knows whether
-- '12/1/2010' was month/day/year); every other value is as the source had it.
-- CHANGED: RECORD_SOURCE added (file, sheet or URL each row came from) so that staging can
-- be rebuilt from this table later and still say where every row came from.
CREATE TABLE IF NOT EXISTS raw.online_retails
(
    InvoiceNo     Nullable(String),
    StockCode     Nullable(String),
    Description   Nullable(String),
    Quantity      Nullable(Int32),
    InvoiceDate   Nullable(String),
    UnitPrice     Nullable(Float64),
    CustomerID    Nullable(UInt64),
    Country       Nullable(String),
    TotalAmount   Nullable(Float64),
    RECORD_SOURCE String
)
ENGINE = MergeTree
ORDER BY tuple();

-- Persistent staging: cleaned, typed, hashed. One row per source row (exact duplicates
-- are kept here, so data quality can count them; the vault stores each line once).
-- CHANGED: InvoiceNo keeps the C of a cancellation (the original removed it): C581484 is
-- an invoice of its own, so the bare number named no sale, and the line, in
-- Fact_Sale_Returns, could no longer be told from a stock write-off.
CREATE TABLE IF NOT EXISTS raw.psa_online_retails
(
    hub_invoice_hash_key               UUID,
    hub_product_hash_key               UUID,
    hub_customer_hash_key              UUID,
    hub_time_hash_key                  UUID,
    hub_country_hash_key               UUID,
    link_invoice_product_hash_key      UUID,
    link_invoice_customer_hash_key     UUID,
    link_invoice_time_hash_key         UUID,
    link_invoice_country_hash_key      UUID,
    link_customer_country_hash_key     UUID,
    InvoiceNo                          String,
    StockCode                          String,
    Description                        Nullable(String),
    Quantity                           Int32,
    InvoiceDate                        DateTime64(0, 'UTC'),
    UnitPrice                          Decimal(10, 4),
    TotalAmount                        Decimal(10, 4),
    CustomerID                         UInt64,
    Country                            String,
    ReturnStatus                       LowCardinality(String),
    LOAD_DATETIME                      DateTime64(0, 'UTC'),
    RECORD_SOURCE                      String
)
ENGINE = MergeTree
ORDER BY (InvoiceDate, hub_invoice_hash_key);

-- ---------------------------------------------------------------------------------------
-- vault: hubs (one row per business key, insert-only)
-- ---------------------------------------------------------------------------------------

-- One row per invoice LINE (key = hash over every column of the line), not per
-- (InvoiceNo, StockCode, InvoiceDate) as in the original, which collided.
CREATE TABLE IF NOT EXISTS vault.hub_invoice
(
    hub_invoice_hash_key UUID,
    InvoiceNo            String,
    InvoiceDate          DateTime64(0, 'UTC'),
    LOAD_DATETIME        DateTime64(0, 'UTC'),
    RECORD_SOURCE        String
)
ENGINE = MergeTree
PRIMARY KEY hub_invoice_hash_key;

CREATE TABLE IF NOT EXISTS vault.hub_product
(
    hub_product_hash_key UUID,
    StockCode            String,
    LOAD_DATETIME        DateTime64(0, 'UTC'),
    RECORD_SOURCE        String
)
ENGINE = MergeTree
PRIMARY KEY hub_product_hash_key;

-- CustomerID 0 is the unknown customer (lines without a customer id).
CREATE TABLE IF NOT EXISTS vault.hub_customer
(
    hub_customer_hash_key UUID,
    CustomerID            UInt64,
    LOAD_DATETIME         DateTime64(0, 'UTC'),
    RECORD_SOURCE         String
)
ENGINE = MergeTree
PRIMARY KEY hub_customer_hash_key;

CREATE TABLE IF NOT EXISTS vault.hub_time
(
    hub_time_hash_key UUID,
    InvoiceDate       DateTime64(0, 'UTC'),
    LOAD_DATETIME     DateTime64(0, 'UTC'),
    RECORD_SOURCE     String
)
ENGINE = MergeTree
PRIMARY KEY hub_time_hash_key;

CREATE TABLE IF NOT EXISTS vault.hub_country
(
    hub_country_hash_key UUID,
    Country              String,
    LOAD_DATETIME        DateTime64(0, 'UTC'),
    RECORD_SOURCE        String
)
ENGINE = MergeTree
PRIMARY KEY hub_country_hash_key;

-- ---------------------------------------------------------------------------------------
-- vault: links (one row per relationship, insert-only)
-- ---------------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS vault.link_invoice_product
(
    link_invoice_product_hash_key UUID,
    hub_invoice_hash_key          UUID,
    hub_product_hash_key          UUID,
    LOAD_DATETIME                 DateTime64(0, 'UTC'),
    RECORD_SOURCE                 String
)
ENGINE = MergeTree
PRIMARY KEY link_invoice_product_hash_key;

CREATE TABLE IF NOT EXISTS vault.link_invoice_customer
(
    link_invoice_customer_hash_key UUID,
    hub_invoice_hash_key           UUID,
    hub_customer_hash_key          UUID,
    LOAD_DATETIME                  DateTime64(0, 'UTC'),
    RECORD_SOURCE                  String
)
ENGINE = MergeTree
PRIMARY KEY link_invoice_customer_hash_key;

CREATE TABLE IF NOT EXISTS vault.link_invoice_time
(
    link_invoice_time_hash_key UUID,
    hub_invoice_hash_key       UUID,
    hub_time_hash_key          UUID,
    LOAD_DATETIME              DateTime64(0, 'UTC'),
    RECORD_SOURCE              String
)
ENGINE = MergeTree
PRIMARY KEY link_invoice_time_hash_key;

CREATE TABLE IF NOT EXISTS vault.link_invoice_country
(
    link_invoice_country_hash_key UUID,
    hub_invoice_hash_key          UUID,
    hub_country_hash_key          UUID,
    LOAD_DATETIME                 DateTime64(0, 'UTC'),
    RECORD_SOURCE                 String
)
ENGINE = MergeTree
PRIMARY KEY link_invoice_country_hash_key;

-- Only known customers: the unknown customer (0) has no country of its own.
CREATE TABLE IF NOT EXISTS vault.link_customer_country
(
    link_customer_country_hash_key UUID,
    hub_customer_hash_key          UUID,
    hub_country_hash_key           UUID,
    LOAD_DATETIME                  DateTime64(0, 'UTC'),
    RECORD_SOURCE                  String
)
ENGINE = MergeTree
PRIMARY KEY link_customer_country_hash_key;

-- ---------------------------------------------------------------------------------------
-- vault: satellites (descriptive attributes, one row per version)
-- CHANGED: HASH_DIFF UUID added (hash over the descriptive attributes): a load adds a row
-- only when (hub key, HASH_DIFF) is new, so a changed attribute adds a version and an
-- unchanged one adds nothing. The original had no hash diff.
-- CHANGED: HASH_DIFF added to ORDER BY, so two different versions that share an
-- EFFECTIVE_FROM are never collapsed by ReplacingMergeTree's background merges; only true
-- duplicates (same key, time and attributes) are.
-- ---------------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS vault.sat_invoice
(
    hub_invoice_hash_key UUID,
    HASH_DIFF            UUID,
    Quantity             Int32,
    UnitPrice            Decimal(10, 4),
    TotalAmount          Decimal(10, 4),
    ReturnStatus         Enum8('Normal' = 0, 'Return' = 1),
    EFFECTIVE_FROM       DateTime64(0, 'UTC'),
    LOAD_DATETIME        DateTime64(0, 'UTC'),
    RECORD_SOURCE        String
)
ENGINE = ReplacingMergeTree(LOAD_DATETIME)
ORDER BY (hub_invoice_hash_key, EFFECTIVE_FROM, HASH_DIFF);

-- CHANGED: Priced added (1: the text was seen on a line with UnitPrice > 0; 0: only on
-- zero-price lines, such as a stock correction's note), so Dim_Product can leave notes out
-- over every load, not load by load. Rows recorded before the column existed were names
-- by the rule of their day, hence DEFAULT 1; the ALTER adds it to such a table.
CREATE TABLE IF NOT EXISTS vault.sat_product
(
    hub_product_hash_key UUID,
    HASH_DIFF            UUID,
    Description          Nullable(String),
    Priced               UInt8 DEFAULT 1,
    EFFECTIVE_FROM       DateTime64(0, 'UTC'),
    LOAD_DATETIME        DateTime64(0, 'UTC'),
    RECORD_SOURCE        String
)
ENGINE = ReplacingMergeTree(LOAD_DATETIME)
ORDER BY (hub_product_hash_key, EFFECTIVE_FROM, HASH_DIFF);

ALTER TABLE vault.sat_product ADD COLUMN IF NOT EXISTS Priced UInt8 DEFAULT 1 AFTER Description;

CREATE TABLE IF NOT EXISTS vault.sat_time
(
    hub_time_hash_key UUID,
    HASH_DIFF         UUID,
    date              Date,
    year              Int32,
    month             Int32,
    day_of_week       Int32,
    EFFECTIVE_FROM    DateTime64(0, 'UTC'),
    LOAD_DATETIME     DateTime64(0, 'UTC'),
    RECORD_SOURCE     String
)
ENGINE = ReplacingMergeTree(LOAD_DATETIME)
ORDER BY (hub_time_hash_key, EFFECTIVE_FROM, HASH_DIFF);

-- CHANGED (new): how the source spelt each country on each invoice, multi-active on
-- InvoiceNo: one row per (country, invoice, spelling). hub_country keeps the spelling
-- its first load saw; Dim_Country names a country as most of its invoices spell it,
-- counted over every load, so neither one stray row nor the load order renames it.
CREATE TABLE IF NOT EXISTS vault.sat_country
(
    hub_country_hash_key UUID,
    InvoiceNo            String,
    HASH_DIFF            UUID,
    Country              String,
    EFFECTIVE_FROM       DateTime64(0, 'UTC'),
    LOAD_DATETIME        DateTime64(0, 'UTC'),
    RECORD_SOURCE        String
)
ENGINE = ReplacingMergeTree(LOAD_DATETIME)
ORDER BY (hub_country_hash_key, InvoiceNo, HASH_DIFF);

-- CHANGED (new): status tracking of invoice lines. A delivery carries whole invoices: when
-- a load holds an invoice, each line of it an earlier load recorded and this load lacks
-- (a corrected line's old version, a removed line) gets a row with Retracted = 1; a
-- retracted line delivered again gets one with Retracted = 0. Rows are only added, one per
-- change, so the vault keeps every version and when each stopped counting; a line's status
-- is its latest row's (none: current), and the marts count current lines only. Plain
-- MergeTree: no merge may collapse two rows of one line.
CREATE TABLE IF NOT EXISTS vault.sat_invoice_status
(
    hub_invoice_hash_key UUID,
    Retracted            UInt8,
    LOAD_DATETIME        DateTime64(0, 'UTC'),
    RECORD_SOURCE        String
)
ENGINE = MergeTree
ORDER BY (hub_invoice_hash_key, LOAD_DATETIME);

-- ---------------------------------------------------------------------------------------
-- marts: star schema, rebuilt from the whole vault on every run
-- ---------------------------------------------------------------------------------------

-- CHANGED: is_product added (0 for stock codes that name no product: postage, fees,
-- manual entries; assets/marts.py lists them), so product rankings can leave them out.
-- The ALTER adds it to a table built before; the next run of dim_product fills it.
CREATE TABLE IF NOT EXISTS marts.Dim_Product
(
    product_key UUID,
    stock_code  String,
    description Nullable(String),
    is_product  UInt8
)
ENGINE = MergeTree
PRIMARY KEY product_key;

ALTER TABLE marts.Dim_Product ADD COLUMN IF NOT EXISTS is_product UInt8 AFTER description;

-- One row per customer (so joining facts to it never multiplies them), including the
-- explicit unknown customer (customer_id 0, nil country_key).
CREATE TABLE IF NOT EXISTS marts.Dim_Customer
(
    customer_key UUID,
    customer_id  UInt64,
    country_key  UUID
)
ENGINE = MergeTree
ORDER BY (customer_key, country_key);

CREATE TABLE IF NOT EXISTS marts.Dim_Time
(
    time_key    UUID,
    date        Date,
    year        UInt16,
    month       UInt8,
    day_of_week UInt8
)
ENGINE = MergeTree
PRIMARY KEY time_key;

CREATE TABLE IF NOT EXISTS marts.Dim_Country
(
    country_key  UUID,
    country_name String
)
ENGINE = MergeTree
PRIMARY KEY country_key;

CREATE TABLE IF NOT EXISTS marts.Fact_Sales
(
    sale_id      UUID,
    invoice_no   String,
    product_key  UUID,
    customer_key UUID,
    time_key     UUID,
    country_key  UUID,
    quantity     Int32,
    unit_price   Decimal(10, 4),
    total_amount Decimal(10, 4)
)
ENGINE = MergeTree
ORDER BY sale_id;

CREATE TABLE IF NOT EXISTS marts.Fact_Sale_Returns
(
    sale_id      UUID,
    invoice_no   String,
    product_key  UUID,
    customer_key UUID,
    time_key     UUID,
    country_key  UUID,
    quantity     Int32,
    unit_price   Decimal(10, 4),
    total_amount Decimal(10, 4)
)
ENGINE = MergeTree
ORDER BY sale_id;

-- ---------------------------------------------------------------------------------------
-- quality
-- ---------------------------------------------------------------------------------------

-- Sales lines without a customer (the original spelled this table "invoioces").
CREATE TABLE IF NOT EXISTS quality.anomaly_customer_invoices
(
    sale_id      UUID,
    invoice_no   String,
    product_key  UUID,
    customer_key UUID,
    time_key     UUID,
    country_key  UUID,
    quantity     Int32,
    unit_price   Decimal(10, 4),
    total_amount Decimal(10, 4)
)
ENGINE = MergeTree
ORDER BY sale_id;

-- Sales lines with unit_price <= 0 or quantity > 1000.
CREATE TABLE IF NOT EXISTS quality.anomaly_invoice
(
    sale_id      UUID,
    invoice_no   String,
    product_key  UUID,
    customer_key UUID,
    time_key     UUID,
    country_key  UUID,
    quantity     Int32,
    unit_price   Decimal(10, 4),
    total_amount Decimal(10, 4)
)
ENGINE = MergeTree
ORDER BY sale_id;

-- One row per check date (the run's date); earlier dates are kept as history.
-- CHANGED: the columns after anomaly_quantity_count are added (line counts by kind and the
-- latest load's duplicate rows), so every business rule has a number to watch.
CREATE TABLE IF NOT EXISTS quality.data_quality
(
    check_date                      Date,
    missing_customer_id_ratio       Float64,
    anomaly_unit_price_count        UInt64,
    anomaly_quantity_count          UInt64,
    sale_line_count                 UInt64,
    return_line_count               UInt64,
    adjustment_line_count           UInt64,
    missing_customer_line_count     UInt64,
    latest_load_row_count           UInt64,
    latest_load_duplicate_row_count UInt64
)
ENGINE = ReplacingMergeTree(check_date)
ORDER BY check_date;

CREATE TABLE IF NOT EXISTS quality.sales_summary
(
    sales_date          Date,
    min_total_amount    Float64,
    max_total_amount    Float64,
    median_total_amount Float64,
    avg_total_amount    Float64,
    volume              Float64
)
ENGINE = ReplacingMergeTree(sales_date)
ORDER BY sales_date;
