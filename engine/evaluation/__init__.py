"""Evaluation-only code: generated clips with known truth, the scores of the field's protocols, and
simulated clicks. Nothing in the backends depends on it."""
