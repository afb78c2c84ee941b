"""ifs-outcomes batch pipeline."""
