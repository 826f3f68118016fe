"""fleetpulse: the CLI and process wiring of the endpoint-experience analytics pipeline."""
