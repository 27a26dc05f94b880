"""Replay: real historical files turned into the raw feed events, in event-time order."""
