"""Evaluation of trained runs (every checkpoint, EMA, truncation, figures) and sanity rows."""
