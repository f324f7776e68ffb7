-- vidsight PostgreSQL projection, version 1: the relational system of record.
-- Written by `vidsight sink run postgres`; rebuilt by `vidsight replay --sink postgres`.
-- Times are timestamptz (UTC); ids are the events' deterministic UUIDv5 values.

CREATE TABLE cameras (
    camera_id        text PRIMARY KEY,
    name             text NOT NULL,
    source           text NOT NULL,
    fps              double precision NOT NULL,
    detector_kind    text NOT NULL,
    detector_options jsonb NOT NULL DEFAULT '{}'::jsonb,
    enabled          boolean NOT NULL,
    updated_ts       timestamptz NOT NULL
);
COMMENT ON TABLE cameras IS 'Current camera definitions (vidsight.config.cameras; a tombstone deletes the row).';

CREATE TABLE sensors (
    sensor_id           text PRIMARY KEY,
    camera_id           text NOT NULL,
    name                text,
    kind                text NOT NULL,
    points              jsonb NOT NULL,
    direction           text NOT NULL,
    labels              text[] NOT NULL,
    min_score           double precision NOT NULL,
    min_area            double precision,
    max_area            double precision,
    min_ratio           double precision,
    max_ratio           double precision,
    seconds             double precision,
    schedule            jsonb,
    severity            text NOT NULL,
    group_gap_s         double precision NOT NULL,
    inertia_frames      integer NOT NULL,
    occupancy_threshold integer,
    enabled             boolean NOT NULL,
    updated_ts          timestamptz NOT NULL,
    score_threshold     double precision,
    timezone            text
);
CREATE INDEX sensors_camera ON sensors (camera_id);
COMMENT ON TABLE sensors IS 'Current sensor definitions (vidsight.config.sensors); points are [[x, y], ...] normalised.';

CREATE TABLE alerts (
    alert_id     uuid PRIMARY KEY,
    camera_id    text NOT NULL,
    sensor_id    text NOT NULL,
    kind         text NOT NULL,
    rule         text NOT NULL,
    lifecycle    text NOT NULL,
    revision     integer NOT NULL,
    severity     text NOT NULL,
    label        text NOT NULL,
    top_score    double precision NOT NULL,
    start_ts     timestamptz NOT NULL,
    end_ts       timestamptz,
    updated_ts   timestamptz NOT NULL,
    evidence_uri text,
    track_ids    bigint[] NOT NULL,
    event_count  integer NOT NULL,
    direction    text,
    bbox         double precision[]
);
CREATE INDEX alerts_camera_start ON alerts (camera_id, start_ts DESC);
CREATE INDEX alerts_open ON alerts (camera_id, start_ts DESC) WHERE lifecycle <> 'end';
COMMENT ON TABLE alerts IS 'One row per alert, moved through new/update/end by (revision, updated_ts); bbox is {x1,y1,x2,y2}.';

CREATE TABLE feedback (
    feedback_id uuid PRIMARY KEY,
    alert_id    uuid NOT NULL,
    camera_id   text NOT NULL,
    sensor_id   text NOT NULL,
    verdict     text NOT NULL,
    operator    text NOT NULL,
    ts          timestamptz NOT NULL,
    note        text,
    boxes       jsonb NOT NULL,
    label       text
);
CREATE INDEX feedback_alert ON feedback (alert_id);
CREATE INDEX feedback_camera_ts ON feedback (camera_id, ts DESC);
COMMENT ON TABLE feedback IS 'Operator verdicts (immutable); boxes are [[x1, y1, x2, y2], ...]. No foreign key: a verdict may land before its alert.';
