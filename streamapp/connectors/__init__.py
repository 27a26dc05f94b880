"""Live feed connectors: pure parsers of provider responses into the raw topics' events."""

# The feeds `streamapp connect` polls (streamapp.connectors.connect).
FEED_NAMES = ("odds-api", "espn", "nba-injury-report")
