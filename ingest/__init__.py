"""The front door: HTTP collector, Kafka producer, DLQ and its replay."""
