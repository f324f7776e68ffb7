"""Recording: the camera's own encoded packets remuxed into MP4 segments, never re-encoded."""
