-- Speed sensors (stream_processors/rules/speed.py): each passage's speed in km/h.
-- Null for every other kind of sensor event, and for the rows written before this version.

ALTER TABLE {db}.sensor_events ADD COLUMN IF NOT EXISTS `speed_kmh` Nullable(Float32) AFTER `evidence_uri`;
