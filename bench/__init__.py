"""``fleetpulse bench``: end-to-end throughput, latency, storage, memory and accuracy, with peers.

Steps (each its own module): ``fleet`` (pre-generate events, not timed) -> ``e2e`` (the local
stack: offered-rate steps, latency at half the maximum, sink drain, bytes on disk) -> ``peers``
(the same events and the same aggregation through fleetpulse's batched agent, a naive faust
agent, Quix Streams and ClickHouse's Kafka engine) -> ``memory`` -> ``accuracy`` -> ``report``.
"""
