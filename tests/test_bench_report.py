"""The benchmark table never calls a row "met" when its figure was not measured (issue 16)."""

from bench.report import rows_for


def relay_result(p50, p99, cpu=None):
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
        "cpu_us_per_delta": cpu if cpu is not None else {"events": 0},
    }
    return {"app": app, "direct": side}


def test_a_relay_row_without_latencies_is_missed_with_the_reason():
    row, _cpu = rows_for("sqlite", {"scenarios": {"relay": {"200": relay_result(None, None)}}})
    assert "MISSED" in row.verdict and "no data" in row.verdict


def test_a_relay_row_whose_replies_never_all_streamed_says_so():
    result = relay_result(None, None)
    result["app"]["overlap"] = {"last_began_s": 19.3, "first_ended_s": 9.0}
    row, _cpu = rows_for("sqlite", {"scenarios": {"relay": {"100": result}}})
    assert "MISSED" in row.verdict
    assert "never all streaming" in row.verdict and "19.3 s" in row.verdict


def test_a_relay_row_with_latencies_and_nothing_lost_is_met():
    row, _cpu = rows_for("sqlite", {"scenarios": {"relay": {"200": relay_result(3.0, 9.0)}}})
    assert row.verdict == "met"


def test_the_300_stream_relay_row_holds_p99_to_25_ms():
    over = rows_for("sqlite", {"scenarios": {"relay": {"300": relay_result(9.0, 26.0)}}})[0]
    under = rows_for("sqlite", {"scenarios": {"relay": {"300": relay_result(9.0, 24.0)}}})[0]
    assert "MISSED" in over.verdict and "ms over" in over.verdict
    assert under.verdict == "met"


def test_a_cpu_per_delta_row_without_cpu_figures_is_missed():
    _latency, row = rows_for("sqlite", {"scenarios": {"relay": {"100": relay_result(3.0, 9.0)}}})
    assert "CPU per relayed delta" in row.measure
    assert "MISSED" in row.verdict and "no data" in row.verdict


def test_a_cpu_per_delta_row_is_met_at_50_us_and_missed_above():
    def cpu_row(daphne):
        cpu = {"events": 5000, "daphne": daphne, "emulator": 40.0}
        result = {"relay": {"100": relay_result(3.0, 9.0, cpu)}}
        return rows_for("sqlite", {"scenarios": result})[1]

    assert cpu_row(49.0).verdict == "met"
    assert "40 µs/delta generated" in cpu_row(49.0).baseline
    assert "MISSED" in cpu_row(154.0).verdict


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
    assert len(rows) == 4  # the time and the CPU row of each variant
    timing = [row for row in rows if "CPU" not in row.measure]
    for row in timing:
        assert "MISSED" in row.verdict and "the emulator did not start" in row.verdict
    for row in rows:
        assert "MISSED" in row.verdict and "no data" in row.verdict


def memory_result(per=30.0, second_closed=102_000, stop_reading=None):
    ws = {
        "kib_per_connection": per,
        "closed_vs_before_percent": 2.0,
        "rss_before_kib": 100_000,
        "rss_open_kib": 130_000,
        "rss_closed_kib": 100_000,
        "still_open": 1000,
        "second_round": {"rss_open_kib": 131_000, "rss_closed_kib": second_closed},
    }
    tcp = {"kib_per_connection": 5.0, "closed_vs_before_percent": 0.0}
    memory = {"connections": 1000, "websocket": ws, "tcp": tcp}
    if stop_reading is not None:
        memory["stop_reading"] = stop_reading
    return rows_for("sqlite", {"scenarios": {"memory": memory}})


def test_memory_rows_hold_issue_16s_targets():
    idle, rounds, stop = memory_result(
        stop_reading={
            "closed": True,
            "held_bytes": 2_000_000,
            "rss_growth_kib": 4096,
            "reader_payload_bytes": 3_000_000,
        }
    )
    assert idle.verdict == "met" and "≤ 32 KiB" in idle.target
    assert rounds.verdict == "met" and "+2.0 %" in rounds.result
    assert stop.verdict == "met" and "1,953 KiB" in stop.result
    over, later, _ = memory_result(per=33.0, second_closed=106_000)
    assert "MISSED" in over.verdict and "MISSED" in later.verdict


def test_a_stop_reading_row_without_data_is_missed():
    _idle, _rounds, missing = memory_result()
    assert "MISSED" in missing.verdict and "no data" in missing.verdict
    _idle, _rounds, open_ = memory_result(
        stop_reading={
            "closed": False,
            "held_bytes": None,
            "rss_growth_kib": 0,
            "reader_payload_bytes": 1,
        }
    )
    assert "MISSED" in open_.verdict and "never closed" in open_.verdict


def test_a_first_token_cpu_row_compares_with_the_emulators_stream_start():
    timed = {
        "overhead_p50_ms": 1.0,
        "overhead_p99_ms": 2.0,
        "turns": 60,
        "app": {"p50": 30.0, "p99": 40.0},
        "direct": {"p50": 29.0, "p99": 38.0},
        "cpu_us_per_turn": {
            "app_daphne": 9000.0,
            "app_emulator": 2000.0,
            "direct_emulator": 2500.0,
        },
    }
    rows = rows_for("sqlite", {"scenarios": {"ttft": {"paced": timed, "burst": timed}}})
    cpu = [row for row in rows if "CPU" in row.measure]
    assert len(cpu) == 2 and all(row.verdict == "met" for row in cpu)
    heavy = {**timed, "cpu_us_per_turn": {**timed["cpu_us_per_turn"], "app_daphne": 11000.0}}
    rows = rows_for("sqlite", {"scenarios": {"ttft": {"paced": heavy, "burst": heavy}}})
    assert all("MISSED" in row.verdict for row in rows if "CPU" in row.measure)


def page_rows(queries: dict[int, int], server_ms=100.0):
    pages = {f"{n} turns": {"server_ms": server_ms, "http_ms": server_ms, "queries": q,
                            "html_kib": 10.0} for n, q in queries.items()}  # fmt: skip
    pages["sign-in"] = {"server_ms": 1.0, "queries": 0}
    return rows_for("defaults", {"scenarios": {"page": {"pages": pages}}})


def test_page_rows_hold_queries_constant_as_the_conversation_grows():
    rows = page_rows({0: 9, 10: 10, 100: 10, 1000: 10})  # an empty one has no turns to read
    assert [r.verdict for r in rows] == ["met", "met", "met"]
    grown = page_rows({0: 9, 10: 10, 100: 11, 1000: 12})
    assert all("queries grow" in r.verdict for r in grown)
    slow = page_rows({0: 9, 10: 10, 100: 10, 1000: 10}, server_ms=300.0)
    assert "1.2× the budget" in slow[-1].verdict and slow[0].verdict == "met"
