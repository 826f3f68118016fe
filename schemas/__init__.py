"""The event contract: models, decoding, JSON Schema export and example events."""
