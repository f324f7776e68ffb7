"""Local embedded stack launcher and production deployment files."""
