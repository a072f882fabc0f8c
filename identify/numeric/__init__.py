"""Numerics: simulate, fit, measure Voronoi losses and slopes (confirm predicted rates)."""
