"""producers package of vidsight (see DESIGN.md)."""
