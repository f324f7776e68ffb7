"""Table values through their changelog codec, and the typed table wrapper over a mapping."""

from __future__ import annotations

import pytest
from test_rm_helpers import CAM, T0, occupancy

from schemas.records import SensorEvent
from stream_processors.readmodels.errors import StateFormatError
from stream_processors.readmodels.occupancy import CameraOccupancy, ZoneOccupancy, apply_occupancy
from stream_processors.readmodels.tables import (
    Sourced,
    StateTable,
    decode_state,
    encode_state,
    group_by_camera,
)


class FakeTable(dict[bytes, bytes]):
    """What StateTable uses of a faust Table: a mapping, its store, and send_changelog."""

    name = "occupancy"

    def __init__(self) -> None:
        super().__init__()
        self.changelog: list[tuple[int, bytes, bytes]] = []

    @property
    def data(self) -> FakeTable:
        return self

    def send_changelog(self, partition: int, key: bytes, value: bytes) -> None:
        self.changelog.append((partition, key, value))


def sourced(*events: SensorEvent, partition: int = 3, first: int = 0) -> list[Sourced[SensorEvent]]:
    return [Sourced(e, partition, first + i, None) for i, e in enumerate(events)]


def test_codec_round_trip_is_compact_json() -> None:
    state = CameraOccupancy(7, {"zone": ZoneOccupancy(2, T0)})
    data = encode_state(state)
    assert data == b'{"offset":7,"zones":{"zone":[2,1700000000000000]}}'
    assert decode_state(CameraOccupancy, data) == state


@pytest.mark.parametrize(
    "data",
    [b"not json", b"[]", b'{"offset":1}', b'{"offset":"1","zones":{}}', b'{"offset":1,"zones":1}'],
)
def test_bad_values_raise_state_format_error(data: bytes) -> None:
    with pytest.raises(StateFormatError, match=r"CameraOccupancy|offset"):
        decode_state(CameraOccupancy, data)


def test_apply_folds_a_batch_into_one_write_on_the_records_partition() -> None:
    raw = FakeTable()
    table = StateTable(raw, CameraOccupancy)
    assert table.name == "occupancy"
    assert table.get(CAM) is None
    items = sourced(occupancy(1, T0), occupancy(2, T0 + 1), occupancy(3, T0 + 2))
    assert table.apply(CAM, 3, apply_occupancy, items)
    expected = CameraOccupancy(2, {"zone": ZoneOccupancy(3, T0 + 2)})
    assert table.get(CAM) == expected
    assert raw.changelog == [(3, CAM.encode(), encode_state(expected))]
    # the same records again (a redelivery) change nothing and write nothing
    assert not table.apply(CAM, 3, apply_occupancy, items)
    assert len(raw.changelog) == 1


def test_group_by_camera_keeps_order_and_partition() -> None:
    a1, b1, a2 = occupancy(1, T0), occupancy(1, T0, camera="cam-2"), occupancy(2, T0 + 1)
    items = [Sourced(a1, 3, 10, None), Sourced(b1, 5, 4, None), Sourced(a2, 3, 11, None)]
    groups = group_by_camera(items)
    assert list(groups) == [(CAM, 3), ("cam-2", 5)]
    assert [i.offset for i in groups[(CAM, 3)]] == [10, 11]
