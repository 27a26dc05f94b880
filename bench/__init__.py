"""Benchmarks of streamapp on the real local broker with real replayed data.

``python -m bench`` (what ``make bench`` runs) measures every figure of the performance
issue and prints it beside its target; the other scripts here answer narrower questions.
"""
