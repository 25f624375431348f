-- Metrics layer: the gauges each run pushes to the Prometheus Pushgateway, kept as history.
--
-- Idempotent (IF NOT EXISTS). One row per metric and run: Prometheus keeps only what it
-- scraped, this table keeps every run's values even when no Pushgateway is configured.

CREATE DATABASE IF NOT EXISTS quality;

CREATE TABLE IF NOT EXISTS quality.pipeline_metrics
(
    run_id      String,
    measured_at DateTime64(0, 'UTC'),
    source      String,
    metric      LowCardinality(String),
    value       Float64,
    pushed_to   String
)
ENGINE = MergeTree
ORDER BY (metric, measured_at, run_id);

-- The sales dashboard's aggregated series: one row per chart point, rebuilt every run.
CREATE TABLE IF NOT EXISTS quality.sales_dashboard
(
    chart    LowCardinality(String),
    position UInt32,
    label    String,
    value    Float64
)
ENGINE = MergeTree
ORDER BY (chart, position);
