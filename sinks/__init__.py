"""sinks package of vidsight (see DESIGN.md)."""
