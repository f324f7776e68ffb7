-- Fact tables made before `_topic_id` existed get it; their rows keep '' (unknown).
-- A no-op on tables 0001 made (they have it already).

ALTER TABLE {db}.detections ADD COLUMN IF NOT EXISTS `_topic_id` LowCardinality(String) DEFAULT '' AFTER `_offset`;
ALTER TABLE {db}.sensor_events ADD COLUMN IF NOT EXISTS `_topic_id` LowCardinality(String) DEFAULT '' AFTER `_offset`;
ALTER TABLE {db}.alerts ADD COLUMN IF NOT EXISTS `_topic_id` LowCardinality(String) DEFAULT '' AFTER `_offset`;
