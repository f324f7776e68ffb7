"""The simulated cameras of ``edge simulate``: ids, sources, and a bad --size named."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from producers.cli import edge
from producers.errors import SimulationError
from producers.synthetic.cameras import parse_size, simulated_cameras


def test_cameras_carry_seed_size_and_timing_in_their_source() -> None:
    cams = simulated_cameras(2, seed=7, size="320X200", realtime=False, scene_duration=4)
    assert [c.camera_id for c in cams] == ["sim-0", "sim-1"]
    assert cams[1].source == (
        "synthetic:crossing?seed=8&width=320&height=200&realtime=false&duration=4"
    )
    assert {c.detector_kind for c in cams} == {"ground_truth"}


@pytest.mark.parametrize("size", ["640", "640x", "axb", "640x360x2", "0x360", "640x-1"])
def test_a_bad_size_is_a_domain_error_naming_the_option(size: str) -> None:
    with pytest.raises(SimulationError) as caught:
        parse_size(size)
    assert caught.value.option == "size"
    assert repr(size) in str(caught.value)


def test_the_cli_reports_a_bad_size_as_a_bad_parameter() -> None:
    result = CliRunner().invoke(edge, ["simulate", "--size", "640"])
    assert result.exit_code == 2
    assert "--size" in result.output and "expected WIDTHxHEIGHT" in result.output
