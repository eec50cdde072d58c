"""Who runs a turn: its lease. One process streams a reply; a turn another process holds is
never run a second time; one whose holder stopped renewing is taken over by exactly one."""

import asyncio
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from chatsite.chat import leases
from chatsite.chat.hub import hub
from chatsite.chat.models import Turn

from .helpers import is_delta, is_status, make_conversation, model_text, wait_for_turn

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def short_lease(settings):
    settings.TURN_LEASE_SECONDS = 1.5


async def start_upstream(emulator, text):
    async with httpx.AsyncClient(headers={"x-goog-api-key": "k"}) as http:
        response = await http.post(
            f"{emulator.base_url}/interactions",
            json={"model": "gemini-3.5-flash", "input": text, "background": True},
        )
    response.raise_for_status()
    return response.json()["id"]


def stream_requests(emulator, interaction_id):
    return [
        r
        for r in emulator.store.all_requests()
        if r.method == "GET" and r.path.endswith(interaction_id) and "stream=true" in r.query
    ]


async def running_turn(
    user, emulator, *, owner, expires_in, stop_requested=False, words="[emulator:pace=5]"
):
    convo = await make_conversation(user)
    interaction_id = await start_upstream(emulator, f"still there? {words}")
    turn = await Turn.objects.acreate(
        conversation=convo,
        interaction_id=interaction_id,
        status="in_progress",
        user_input=[{"type": "text", "text": "still there?"}],
        lease_owner=owner,
        lease_expires_at=timezone.now() + timedelta(seconds=expires_in),
        # In the same INSERT: with Redis, this process's lease watcher may look at any moment.
        stop_requested_at=timezone.now() if stop_requested else None,
    )
    return convo, turn


async def test_a_tab_does_not_run_a_turn_another_process_holds(user, open_tab, emulator):
    """It waits for the lease to run out (its holder may only be slow), then re-attaches."""
    convo, turn = await running_turn(user, emulator, owner="another-process", expires_in=1.5)
    tab = await open_tab(user, convo.pk)
    await tab.send({"action": "resume", "turns": [turn.pk], "after": turn.pk})
    await tab.receive_until(lambda f: is_status(f, "in_progress"))  # what is saved, at once
    assert hub.runner(turn.pk) is None
    assert stream_requests(emulator, turn.interaction_id) == []
    await tab.receive_until(lambda f: is_status(f, "completed"), timeout=10)
    turn = await wait_for_turn(turn.pk)
    assert model_text(turn.steps) == model_text(emulator.store.get(turn.interaction_id).all_steps())
    assert len(stream_requests(emulator, turn.interaction_id)) == 1
    await tab.close()


async def test_a_lapsed_lease_is_taken_by_exactly_one_taker(user, emulator):
    _, turn = await running_turn(user, emulator, owner="a-dead-process", expires_in=-1)
    taken = await asyncio.gather(*(leases.take_over(turn.pk) for _ in range(5)))
    assert taken.count(True) == 1
    turn = await Turn.objects.aget(pk=turn.pk)
    assert turn.lease_owner == leases.PROCESS_ID
    assert turn.lease_expires_at > timezone.now()


async def test_a_finished_turn_is_never_taken_over(user, emulator):
    _, turn = await running_turn(user, emulator, owner="a-dead-process", expires_in=-1)
    await Turn.objects.filter(pk=turn.pk).aupdate(status="completed")
    assert not await leases.take_over(turn.pk)
    # A runner that ended on a resting status (nothing left to call) is not run again either.
    await Turn.objects.filter(pk=turn.pk).aupdate(
        status="requires_action", completed_at=timezone.now()
    )
    assert not await leases.take_over(turn.pk)


async def test_a_runner_renews_its_lease_and_stops_silently_once_another_took_it(user, open_tab):
    convo = await make_conversation(user)
    tab = await open_tab(user, convo.pk)
    await tab.send({"action": "send", "message": "long [emulator:words=2000] [emulator:pace=5]"})
    await tab.receive_until(is_delta)
    turn = await Turn.objects.filter(conversation=convo).alast()
    first = turn.lease_expires_at
    assert turn.lease_owner == leases.PROCESS_ID
    await asyncio.sleep(1.0)  # two renewals at 1.5 / 3 s
    renewed = (await Turn.objects.aget(pk=turn.pk)).lease_expires_at
    assert renewed > first
    # Another process took the turn (this one looked dead to it): stop, and write nothing.
    await Turn.objects.filter(pk=turn.pk).aupdate(lease_owner="another-process")
    for _ in range(100):
        if hub.runner(turn.pk) is None:
            break
        await asyncio.sleep(0.05)
    assert hub.runner(turn.pk) is None
    turn = await Turn.objects.aget(pk=turn.pk)
    assert turn.status == "in_progress"
    assert turn.lease_owner == "another-process"
    await tab.close()


async def test_a_runner_stops_at_its_next_renewal_when_a_stop_it_missed_is_kept(user, open_tab):
    """Stop pressed on another process while the relay's word did not reach this one (e.g.
    it was taking the turn over): the renewal sees the Stop kept with the turn."""
    convo = await make_conversation(user)
    tab = await open_tab(user, convo.pk)
    await tab.send({"action": "send", "message": "long [emulator:words=2000] [emulator:pace=5]"})
    await tab.receive_until(is_delta)
    turn = await Turn.objects.filter(conversation=convo).alast()
    await Turn.objects.filter(pk=turn.pk).aupdate(stop_requested_at=timezone.now())
    await tab.receive_until(lambda f: is_status(f, "cancelled"), timeout=10)
    turn = await wait_for_turn(turn.pk)
    assert turn.status == "cancelled"
    assert len(model_text(turn.steps).split()) < 2000


async def test_a_stopped_turn_whose_owner_died_is_cancelled_not_re_attached(user, emulator):
    convo, turn = await running_turn(
        user, emulator, owner="a-dead-process", expires_in=-1, stop_requested=True,
        words="[emulator:words=2000] [emulator:pace=5]",  # still running when it is cancelled
    )  # fmt: skip
    assert await leases.adopt(turn.pk) is None
    # This call, or the process's lease watcher (running with Redis) first: either ends it.
    for _ in range(100):
        turn = await Turn.objects.aget(pk=turn.pk)
        if turn.status != "in_progress":
            break
        await asyncio.sleep(0.1)
    assert turn.status == "cancelled"
    assert emulator.store.status(turn.interaction_id) == "cancelled"
    assert stream_requests(emulator, turn.interaction_id) == []
