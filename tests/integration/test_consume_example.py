"""The downstream consumer example of README works against the local stack, promptly."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from typing import Any

import pytest

from schemas import catalog
from tests.support import samples

pytestmark = pytest.mark.integration


def test_example_consumer_gets_its_first_record_within_seconds(catalog_topics: Any) -> None:
    tag = f"cx{uuid.uuid4().hex[:6]}"
    scene = samples.scene(1, 30, prefix=f"{tag}-")
    alerts = list(scene.alerts)
    assert alerts
    samples.publish(catalog_topics.endpoints, catalog.ALERTS, alerts)
    started = time.monotonic()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "schemas.examples.consume",
            catalog.ALERTS,
            "--data-dir",
            str(catalog_topics.data_dir),
            "--from-beginning",
            "--max",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    waited = time.monotonic() - started
    assert proc.returncode == 0, err
    record = json.loads(out.splitlines()[0])
    assert set(record) == {"camera_id", "partition", "offset", "value"}
    assert {"alert_id", "camera_id", "lifecycle", "start_ts"} <= set(record["value"])
    # With the client's default session timeout (45 s) the local broker held the first
    # JoinGroup for ~23 s; the example's settings bring it to a few seconds.
    assert waited < 15, f"first record after {waited:.1f}s"
