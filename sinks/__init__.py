"""Kafka to ClickHouse: backends, migrations, the batched writer and the read layer reports use."""
