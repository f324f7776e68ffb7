"""etl package of vidsight (see DESIGN.md)."""
