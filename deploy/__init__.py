"""Local infrastructure: the Kafka broker from Maven Central, Prometheus and Grafana config."""
