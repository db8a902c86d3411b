"""Evaluation: masks binned and paired with photos, methods run side by side, metrics and reports."""
