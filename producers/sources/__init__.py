"""Camera sources: video files, RTSP, HTTP JPEG snapshots and synthetic scenes.

``producers.sources.factory.open_source`` picks one by the camera's source URL.
"""
