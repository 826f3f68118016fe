"""The front door: HTTP collector, Kafka producer, DLQ and the fleet simulator."""
