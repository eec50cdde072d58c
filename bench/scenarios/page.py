"""5. Conversation page render time and SQL query count at 10, 100 and 1,000 turns.

Turns are written straight to the database, each as the runner would save it: the echoed
user_input, a thought with a summary and signature, and a model_output of ~150 words of markdown
with a list and a fenced Python block. `GET /c/<id>/` is timed two ways:
- in-process, with Django's test client (server time: middleware, view, queries, templates);
  queries counted with CaptureQueriesContext on a separate, untimed request;
- over HTTP against daphne (client-observed time, so it includes daphne and loopback).
Baselines: the sign-in page and an empty conversation (0 turns), measured the same way.
The page's user owns only these conversations, so the sidebar is the same for every size.
"""

from __future__ import annotations

import time

import httpx
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bench import fixtures
from bench.servers import Interference
from bench.stats import median


def _time(fetch, reps: int) -> tuple[float, int]:
    fetch()  # warm: templates compiled, connections open
    times, size = [], 0
    for _ in range(reps):
        started = time.perf_counter()
        body = fetch()
        times.append(time.perf_counter() - started)
        size = len(body)
    middle = median(times)
    if middle is None:  # reps < 1: as before, there is no time to report
        raise TypeError("nothing was timed")
    return 1000 * middle, size


def run(ctx) -> dict:
    p = ctx.profile
    reader = fixtures.make_user("page-reader")
    pages = {"sign-in": ("/accounts/login/", 0)}
    for size in (0, *p.page_sizes):
        conversation = fixtures.make_page_conversation(reader, size, str(size))
        pages[f"{size} turns"] = (f"/c/{conversation}/", size)

    signed_in = Client(HTTP_HOST="127.0.0.1")
    signed_in.force_login(reader)
    anonymous = Client(HTTP_HOST="127.0.0.1")
    cookie = fixtures.session_cookie(reader)
    out: dict = {"answer_words": fixtures.words_in_answer(), "pages": {}}
    with httpx.Client(base_url=ctx.app_url, trust_env=False, timeout=60) as http:
        for label, (path, turns) in pages.items():
            client = anonymous if label == "sign-in" else signed_in
            headers = {} if label == "sign-in" else {"Cookie": cookie}

            def in_process(client=client, path=path):
                response = client.get(path)
                assert response.status_code == 200, (path, response.status_code)
                return response.content

            def over_http(path=path, headers=headers):
                response = http.get(path, headers=headers)
                assert response.status_code == 200, (path, response.status_code)
                return response.content

            reps = p.page_reps if turns >= 1000 else max(p.page_reps, 5)
            with CaptureQueriesContext(connection) as queries:
                in_process()
            query_count = len(queries)  # read now: the next request clears the log
            with Interference(ctx.daphne) as other:
                server_ms, size = _time(in_process, reps)
                http_ms, _ = _time(over_http, reps)
            out["pages"][label] = {
                "queries": query_count,
                "server_ms": server_ms,
                "http_ms": http_ms,
                "html_kib": size / 1024,
                "others_cpu_percent": other.percent,
            }
    return out
