"""Live feed connectors: pure parsers of provider responses into the raw topics' events."""
