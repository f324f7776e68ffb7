-- The projection as sinks/clickhouse/ddl.py created it before migrations existed: the fact
-- tables (one per projected topic), the hourly rollups and the views that feed them.
-- {db} is the configured database. Statements end with ';' at the end of a line.

CREATE DATABASE IF NOT EXISTS {db};

CREATE TABLE IF NOT EXISTS {db}.detections
(
    `event_id` String,
    `object_index` UInt16,
    `camera_id` LowCardinality(String),
    `frame_ts` DateTime64(6, 'UTC'),
    `seq` Int64,
    `model` LowCardinality(String),
    `track_id` Int64,
    `label` LowCardinality(String),
    `score` Float32,
    `x1` Float32,
    `y1` Float32,
    `x2` Float32,
    `y2` Float32,
    `evidence_uri` Nullable(String),
    `_partition` UInt16,
    `_offset` UInt64,
    `_topic_id` LowCardinality(String) DEFAULT '',
    INDEX label_set label TYPE set(1024) GRANULARITY 4,
    INDEX offset_minmax _offset TYPE minmax GRANULARITY 4
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(frame_ts)
ORDER BY (camera_id, frame_ts, event_id, object_index)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'One row per detected object (vidsight.detections); bbox normalised 0..1.';

CREATE TABLE IF NOT EXISTS {db}.sensor_events
(
    `event_id` String,
    `camera_id` LowCardinality(String),
    `sensor_id` LowCardinality(String),
    `kind` LowCardinality(String),
    `direction` LowCardinality(Nullable(String)),
    `track_id` Nullable(Int64),
    `label` LowCardinality(String),
    `score` Float32,
    `ts` DateTime64(6, 'UTC'),
    `count` Nullable(Int32),
    `dwell_s` Nullable(Float32),
    `anchor_x` Nullable(Float32),
    `anchor_y` Nullable(Float32),
    `x1` Nullable(Float32),
    `y1` Nullable(Float32),
    `x2` Nullable(Float32),
    `y2` Nullable(Float32),
    `frame_seq` Int64,
    `evidence_uri` Nullable(String),
    `_partition` UInt16,
    `_offset` UInt64,
    `_topic_id` LowCardinality(String) DEFAULT '',
    INDEX kind_set kind TYPE set(16) GRANULARITY 4,
    INDEX offset_minmax _offset TYPE minmax GRANULARITY 4
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (camera_id, sensor_id, ts, event_id)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'One row per sensor event (vidsight.sensor-events): zone enter/exit, crossings, ...';

CREATE TABLE IF NOT EXISTS {db}.alerts
(
    `alert_id` String,
    `camera_id` LowCardinality(String),
    `sensor_id` LowCardinality(String),
    `kind` LowCardinality(String),
    `rule` LowCardinality(String),
    `lifecycle` LowCardinality(String),
    `revision` UInt32,
    `severity` LowCardinality(String),
    `label` LowCardinality(String),
    `top_score` Float32,
    `start_ts` DateTime64(6, 'UTC'),
    `end_ts` Nullable(DateTime64(6, 'UTC')),
    `updated_ts` DateTime64(6, 'UTC'),
    `evidence_uri` Nullable(String),
    `track_ids` Array(Int64),
    `event_count` UInt32,
    `direction` LowCardinality(Nullable(String)),
    `x1` Nullable(Float32),
    `y1` Nullable(Float32),
    `x2` Nullable(Float32),
    `y2` Nullable(Float32),
    `_partition` UInt16,
    `_offset` UInt64,
    `_topic_id` LowCardinality(String) DEFAULT '',
    INDEX offset_minmax _offset TYPE minmax GRANULARITY 4
)
ENGINE = ReplacingMergeTree(revision)
PARTITION BY toYYYYMM(start_ts)
ORDER BY (camera_id, sensor_id, start_ts, alert_id)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'Latest state per alert (vidsight.alerts); query with FINAL for one row per alert.';

CREATE TABLE IF NOT EXISTS {db}.detections_hourly
(
    hour DateTime('UTC'),
    camera_id LowCardinality(String),
    label LowCardinality(String),
    objects SimpleAggregateFunction(sum, UInt64),
    score_sum SimpleAggregateFunction(sum, Float64),
    tracks AggregateFunction(uniq, Int64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (camera_id, label, hour)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.detections_hourly_mv TO {db}.detections_hourly AS
SELECT toStartOfHour(frame_ts) AS hour, camera_id, label, count() AS objects,
       sum(toFloat64(score)) AS score_sum, uniqState(track_id) AS tracks
FROM {db}.detections GROUP BY hour, camera_id, label;

CREATE TABLE IF NOT EXISTS {db}.sensor_events_hourly
(
    hour DateTime('UTC'),
    camera_id LowCardinality(String),
    sensor_id LowCardinality(String),
    kind LowCardinality(String),
    direction LowCardinality(String),
    label LowCardinality(String),
    events SimpleAggregateFunction(sum, UInt64),
    tracks AggregateFunction(uniq, Int64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (camera_id, sensor_id, kind, direction, label, hour)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.sensor_events_hourly_mv TO {db}.sensor_events_hourly AS
SELECT toStartOfHour(ts) AS hour, camera_id, sensor_id, kind,
       ifNull(direction, '') AS direction, label, count() AS events,
       uniqState(ifNull(track_id, -1)) AS tracks
FROM {db}.sensor_events GROUP BY hour, camera_id, sensor_id, kind, direction, label;

CREATE TABLE IF NOT EXISTS {db}.alerts_hourly
(
    hour DateTime('UTC'),
    camera_id LowCardinality(String),
    sensor_id LowCardinality(String),
    severity LowCardinality(String),
    label LowCardinality(String),
    alerts SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (camera_id, sensor_id, severity, label, hour)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.alerts_hourly_mv TO {db}.alerts_hourly AS
SELECT toStartOfHour(start_ts) AS hour, camera_id, sensor_id, severity, label,
       count() AS alerts
FROM {db}.alerts WHERE lifecycle = 'new'
GROUP BY hour, camera_id, sensor_id, severity, label;
