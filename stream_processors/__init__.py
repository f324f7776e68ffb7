"""stream_processors package of vidsight (see DESIGN.md)."""
