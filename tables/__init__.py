"""Faust table definitions and the pure functions that update them."""
