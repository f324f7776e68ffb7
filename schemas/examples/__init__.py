"""Runnable examples for downstream developers (copy them; nothing in vidsight imports them)."""
