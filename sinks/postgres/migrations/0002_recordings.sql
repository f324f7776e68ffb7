-- vidsight PostgreSQL projection, version 2: recorded video segments (vidsight.recordings).
-- One row per MP4 segment; alert clips find the segments of a camera that overlap a time range.

CREATE TABLE recordings (
    segment_id     uuid PRIMARY KEY,
    camera_id      text NOT NULL,
    start_ts       timestamptz NOT NULL,
    end_ts         timestamptz NOT NULL,
    uri            text NOT NULL,
    bytes          bigint NOT NULL,
    sha256         text NOT NULL,
    codec          text NOT NULL,
    width          integer NOT NULL,
    height         integer NOT NULL,
    packets        integer NOT NULL,
    keyframe_start boolean NOT NULL,
    mode           text NOT NULL
);
CREATE INDEX recordings_camera_start ON recordings (camera_id, start_ts);
CREATE INDEX recordings_start ON recordings (start_ts);
COMMENT ON TABLE recordings IS 'Recorded MP4 segments of each camera ([start_ts, end_ts), object at uri); rows of expired recordings are deleted by the retention asset.';
