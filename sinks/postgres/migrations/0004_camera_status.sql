-- vidsight PostgreSQL projection, version 4: the current health of every camera and edge node
-- (vidsight.health). One row per heartbeat key: a camera id, or node:<node_id> for a node's own
-- heartbeat; each heartbeat replaces the row unless it is older than the one stored.

CREATE TABLE camera_status (
    key                 text PRIMARY KEY,
    node_id             text NOT NULL,
    site                text,
    camera_id           text,
    state               text NOT NULL,
    configured_fps      double precision,
    decoded_fps         double precision NOT NULL,
    analysed_fps        double precision NOT NULL,
    frames_decoded      bigint NOT NULL,
    frames_analysed     bigint NOT NULL,
    decode_errors       bigint NOT NULL,
    reconnects          bigint NOT NULL,
    last_frame_ts       timestamptz,
    detector_latency_ms double precision,
    spool_depth         bigint,
    spool_evictions     bigint,
    evidence_backlog    bigint,
    error               text,
    interval_s          double precision NOT NULL,
    ts                  timestamptz NOT NULL
);
CREATE INDEX camera_status_node ON camera_status (node_id);
COMMENT ON TABLE camera_status IS 'Latest heartbeat per camera (key = camera_id) and per edge node (key = node:<node_id>, camera_id null): state, fps decoded/analysed vs configured, reconnects, last frame, spool depth. A row whose ts is older than a few interval_s belongs to a camera or node that went silent.';
