-- vidsight PostgreSQL projection, version 3: the speed sensor kind's fields on sensors.
-- Null for every other kind (and for the rows written before this version).

ALTER TABLE sensors
    ADD COLUMN distance_m          double precision,
    ADD COLUMN speed_kmh_threshold double precision,
    ADD COLUMN max_seconds         double precision;
COMMENT ON COLUMN sensors.distance_m IS 'Speed sensors: metres from line 1 to line 2.';
COMMENT ON COLUMN sensors.speed_kmh_threshold IS 'Speed sensors: passages faster than this (km/h) raise an alert; null = no alerts.';
COMMENT ON COLUMN sensors.max_seconds IS 'Speed sensors: most seconds between the two crossings of one passage (null = 30).';
