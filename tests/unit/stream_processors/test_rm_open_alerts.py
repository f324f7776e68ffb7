"""Open alerts per camera: new/update upsert by revision, end removes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from test_rm_helpers import CAM, T0, alert

from schemas.records import AlertLifecycle
from stream_processors.readmodels.open_alerts import (
    CameraAlerts,
    OpenAlert,
    apply_alert,
    open_alerts_view,
)

NEW, UPDATE, END = AlertLifecycle.NEW, AlertLifecycle.UPDATE, AlertLifecycle.END


def run(*alerts: object) -> CameraAlerts:
    state = CameraAlerts()
    for offset, a in enumerate(alerts):
        state = apply_alert(state, a, offset)  # type: ignore[arg-type]
    return state


def test_new_update_end() -> None:
    state = run(alert(NEW, 0), alert(UPDATE, 1))
    (held,) = state.open.values()
    assert (held.revision, held.top_score, held.event_count) == (1, 0.6, 2)
    assert held.evidence_uri == "s3://vidsight/evidence/1.jpg"
    assert apply_alert(state, alert(END, 2), 2).open == {}


def test_two_alerts_one_ends() -> None:
    second = T0 + 5_000_000
    state = run(alert(NEW, 0), alert(NEW, 0, start=second), alert(END, 1))
    assert [a.start_ts for a in state.open.values()] == [second]


def test_an_older_revision_does_not_replace_a_newer_one() -> None:
    state = run(alert(NEW, 0), alert(UPDATE, 3))
    assert apply_alert(state, alert(UPDATE, 2), 5) is state


def test_end_of_an_unknown_alert_and_unknown_lifecycles_change_nothing() -> None:
    state = run(alert(NEW, 0))
    assert apply_alert(state, alert(END, 1, start=T0 + 1), 3) is state
    assert apply_alert(state, alert(AlertLifecycle.UNKNOWN, 4), 4) is state


def test_redelivered_lifecycle_messages_are_skipped() -> None:
    state = run(alert(NEW, 0), alert(END, 1))
    assert apply_alert(state, alert(NEW, 0), 0) is state


def test_an_update_without_a_new_opens_the_alert() -> None:
    # e.g. the read model started after the `new` left the topic's retention
    assert len(run(alert(UPDATE, 4)).open) == 1


@given(st.lists(st.tuples(st.integers(0, 3), st.sampled_from([NEW, UPDATE, END])), max_size=25))
def test_open_iff_the_last_message_is_not_end(seq: list[tuple[int, AlertLifecycle]]) -> None:
    msgs = [alert(lc, rev, start=T0 + n) for rev, (n, lc) in enumerate(seq)]
    state = run(*msgs)
    last = {T0 + n: lc for n, lc in seq}
    assert {a.start_ts for a in state.open.values()} == {
        start for start, lc in last.items() if lc != END
    }
    assert CameraAlerts.from_json(state.to_json()) == state


def test_view_lists_oldest_first() -> None:
    state = run(alert(NEW, 0, start=T0 + 9), alert(NEW, 0, start=T0))
    view = open_alerts_view(CAM, state)
    assert view["count"] == 2
    assert [a["start_ts"] for a in view["alerts"]] == [T0, T0 + 9]
    first = view["alerts"][0]
    assert first["severity"] == "high" and first["rule"] == "tripwire"
    assert OpenAlert.from_json(first) == state.open[first["alert_id"]]
    assert open_alerts_view(CAM, None) == {"camera_id": CAM, "count": 0, "alerts": []}
