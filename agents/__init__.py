"""Faust agents: one per module, each a thin loop over pure functions."""
