"""The benchmark table never calls a row "met" when its figure was not measured (issue 16)."""

from bench.report import rows_for


def relay_result(p50, p99):
    side = {
        "latency": {"p50": p50, "p99": p99},
        "lost_chars": 0,
        "doubled_chars": 0,
        "cpu_percent": {"daphne": 90.0, "others": 0},
    }
    app = {
        **side,
        "turns": 200,
        "completed": 200,
        "sockets_closed_early": 0,
        "streams_saved_mismatch": 0,
        "deltas": 0,
    }
    return {"app": app, "direct": side}


def test_a_relay_row_without_latencies_is_missed_with_the_reason():
    (row,) = rows_for("sqlite", {"scenarios": {"relay": {"200": relay_result(None, None)}}})
    assert "MISSED" in row.verdict and "no data" in row.verdict


def test_a_relay_row_with_latencies_and_nothing_lost_is_met():
    (row,) = rows_for("sqlite", {"scenarios": {"relay": {"200": relay_result(3.0, 9.0)}}})
    assert row.verdict == "met"


def test_a_first_token_row_without_timings_is_missed_with_the_reason():
    empty = {
        "overhead_p50_ms": None,
        "overhead_p99_ms": None,
        "turns": 0,
        "app": {"p50": None, "p99": None},
        "direct": {"p50": None, "p99": None},
        "failed": ["the emulator did not start"],
    }
    rows = rows_for("sqlite", {"scenarios": {"ttft": {"paced": empty, "burst": empty}}})
    assert len(rows) == 2
    for row in rows:
        assert "MISSED" in row.verdict and "the emulator did not start" in row.verdict
