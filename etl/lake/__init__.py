"""The cold tier: the Avro archive's manifest and completeness, and its Parquet compaction."""
