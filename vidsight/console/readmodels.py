"""Live figures from the read models (faust web): today's crossings and occupancy per camera.

When they are not running the cameras page says so instead of failing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import httpx

NOT_RUNNING = "read models not running"


class ReadModelsClient:
    def __init__(self, base_url: str, timeout_s: float = 2.0) -> None:
        self.base_url = base_url
        self.timeout_s = timeout_s

    async def figures(self, cameras: Sequence[str]) -> dict[str, Any]:
        """Per camera ``{"occupancy", "crossings"}``; ``_state`` says when they are down."""
        out: dict[str, Any] = {}
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s) as client:

                async def one(cam: str) -> None:
                    c = quote(cam, safe="")
                    occ = await client.get(f"{self.base_url}/state/occupancy/{c}")
                    cross = await client.get(f"{self.base_url}/state/crossings/{c}")
                    occ.raise_for_status()
                    cross.raise_for_status()
                    out[cam] = {"occupancy": occ.json(), "crossings": cross.json()}

                # With no camera yet, one probe still tells whether they run at all.
                await asyncio.gather(*(one(c) for c in (cameras[:200] or ["-"])))
                out.pop("-", None)
        except (httpx.HTTPError, ValueError):
            return {"_state": NOT_RUNNING}
        return out
