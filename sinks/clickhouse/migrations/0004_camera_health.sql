-- Edge health history (vidsight.health, issue 17): one row per heartbeat of a camera
-- (key = camera_id) or an edge node (key = node:<node_id>, camera_id null). PostgreSQL keeps
-- only the latest per key (camera_status); this is the history for "how did camera X do".

CREATE TABLE IF NOT EXISTS {db}.camera_health
(
    `heartbeat_id` String,
    `key` LowCardinality(String),
    `node_id` LowCardinality(String),
    `site` LowCardinality(Nullable(String)),
    `camera_id` LowCardinality(Nullable(String)),
    `state` LowCardinality(String),
    `configured_fps` Nullable(Float32),
    `decoded_fps` Float32,
    `analysed_fps` Float32,
    `frames_decoded` Int64,
    `frames_analysed` Int64,
    `decode_errors` Int64,
    `reconnects` Int64,
    `last_frame_ts` Nullable(DateTime64(6, 'UTC')),
    `detector_latency_ms` Nullable(Float32),
    `spool_depth` Nullable(Int64),
    `spool_evictions` Nullable(Int64),
    `evidence_backlog` Nullable(Int64),
    `error` Nullable(String),
    `interval_s` Float32,
    `ts` DateTime64(6, 'UTC'),
    `_partition` UInt16,
    `_offset` UInt64,
    `_topic_id` LowCardinality(String) DEFAULT '',
    INDEX offset_minmax _offset TYPE minmax GRANULARITY 4
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (key, ts, heartbeat_id)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'Heartbeats of cameras and edge nodes (vidsight.health): state, fps decoded/analysed vs configured, reconnects, last frame, spool depth; FINAL shows each heartbeat once.';
