from datetime import date, timedelta

from usersnap_pipeline.steps.changes import ChangeCursor, RunPlan, Watermark, plan_runs

D = date(2026, 6, 1)


def day(n):
    return D + timedelta(days=n)


def test_nearby_days_share_a_run_and_far_ones_do_not():
    plans = plan_runs({"a": {day(0), day(2)}, "b": {day(3), day(40)}}, first_partition=day(-100),
                      last_partition=day(100))
    assert plans == [RunPlan(day(0), day(3), ("a", "b")), RunPlan(day(40), day(40), ("b",))]


def test_days_outside_the_partitions_are_dropped():
    assert plan_runs({"a": {day(-5), day(5)}}, first_partition=day(0), last_partition=day(3)) == []
    assert plan_runs({"a": {day(-5), day(1)}}, first_partition=day(0), last_partition=day(3)) == \
        [RunPlan(day(1), day(1), ("a",))]


def test_no_change_no_run():
    assert plan_runs({}, first_partition=day(0), last_partition=day(3)) == []


def test_cursor_round_trips_and_ignores_other_versions():
    cursor = ChangeCursor({"p": Watermark("2026-06-01T00:00:00.000000Z", {"f": "2026-06-01T00:00:00.000000Z"})},
                          ["p"], "2026-06-01T00:00:00.000000Z")
    assert ChangeCursor.from_json(cursor.to_json()) == cursor
    assert ChangeCursor.from_json('{"v": 99}') == ChangeCursor()
    assert ChangeCursor.from_json(None) == ChangeCursor()
