"""Indicators: one module per family, each defined once (DESIGN section 5)."""
