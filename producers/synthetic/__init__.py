"""Synthetic scenes: deterministic moving objects rendered to frames, with their ground truth."""
