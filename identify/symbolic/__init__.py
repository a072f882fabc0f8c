"""Symbolic analysis: derivative families, relations with proofs, certified ranks, verdicts."""
