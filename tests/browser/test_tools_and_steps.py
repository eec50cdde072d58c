"""Tools and steps in a real browser: tick a tool in the settings panel, send, and see its
call and result cards, the answer's citations and sources, thoughts, images and the JSON card
of a step type nobody knows yet. Each test leaves a screenshot: test-artifacts/tools-*.png."""

import json
import re

from playwright.sync_api import expect

from .conftest import screenshot
from .ui import (
    assistant,
    choose,
    interaction_with,
    into_view,
    natural_width,
    reveal,
    start,
    step,
    wait_for_reply,
)

QUICK = "[emulator:pace=0]"


def expand(card) -> None:
    """Open a step card (a <details>) the way a person does: click its summary."""
    reveal(card)
    if card.get_attribute("open") is None:
        card.locator("summary").first.click()
    expect(card).to_have_attribute("open", "")


def test_google_search_shows_cards_suggestions_and_citations(
    new_page, fresh_user, browser_emulator
):
    page = new_page(fresh_user)
    framed = []
    page.on("response", lambda r: "/suggestions/" in r.url and framed.append(r))
    choose(page, tools=["google_search"])
    start(page, f"Tell me about tea in Paris {QUICK}")
    wait_for_reply(page)

    call = step(page, "google_search_call")
    expect(call).to_have_count(1)
    expect(call.locator(".chip")).to_contain_text(["Tell me about tea in Paris"])

    result = step(page, "google_search_result")
    expect(result).to_have_count(1)
    expect(result).to_have_attribute("open", "")  # Google's terms: suggestions are shown
    frame = result.locator("iframe.search-suggestions")
    expect(frame).to_have_count(1)
    sandbox = frame.get_attribute("sandbox").split()
    assert "allow-scripts" not in sandbox and "allow-same-origin" not in sandbox, sandbox
    # The framed snippet really loads (Google's widget, with the query in it).
    expect(page.frame_locator("iframe.search-suggestions").locator("body")).to_contain_text(
        "tea in Paris", timeout=10_000
    )
    assert framed and all(r.status == 200 for r in framed), [(r.url, r.status) for r in framed]

    answer = step(page, "model_output")
    markers = answer.locator("a[data-citation]")
    expect(markers.first).to_be_visible()
    hrefs = markers.evaluate_all("links => links.map(a => a.href)")
    sources = answer.locator("ol.sources a").evaluate_all("links => links.map(a => a.href)")
    assert hrefs and sources, (hrefs, sources)
    assert all(h.startswith("https://") for h in hrefs), hrefs
    assert set(hrefs) <= set(sources), (hrefs, sources)  # each marker's source is listed
    cited = json.dumps(interaction_with(browser_emulator, "tea in Paris").steps)
    assert all(json.dumps(h)[1:-1] in cited for h in hrefs), "markers link to the cited URLs"
    expect(answer.locator("ol.sources")).to_have_attribute("aria-label", "Sources")

    into_view(result)
    screenshot(page, "tools-search-desktop")


def test_code_execution_shows_the_code_and_its_output(new_page, fresh_user):
    page = new_page(fresh_user)
    choose(page, tools=["code_execution"])
    start(page, f"count the letters in hello world {QUICK}")
    wait_for_reply(page)

    call = step(page, "code_execution_call")
    expect(call).to_have_count(1)
    expand(call)
    code = call.locator("pre.code")
    expect(code).to_be_visible()
    expect(code).to_have_attribute("data-lang", "python")
    expect(code).to_contain_text("print(")

    result = step(page, "code_execution_result")
    expand(result)
    output = result.locator("pre.output")
    expect(output).to_be_visible()
    expect(output).to_contain_text("words: 6")  # the code ran on the message's 6 words
    expect(output).to_contain_text("letters: ")
    expect(step(page, "model_output")).to_contain_text("words: 6")  # and the answer quotes it

    into_view(call)
    screenshot(page, "tools-code-desktop")


def test_url_context_lists_the_urls_with_their_status(new_page, fresh_user):
    page = new_page(fresh_user)
    choose(page, tools=["url_context"])
    start(
        page,
        "compare https://example.com/guide and https://news.example.com/paywall/story " + QUICK,
    )
    wait_for_reply(page)

    call = step(page, "url_context_call")
    expect(call.locator(".card-list a")).to_have_text(
        ["https://example.com/guide", "https://news.example.com/paywall/story"]
    )
    result = step(page, "url_context_result")
    expand(result)
    rows = result.locator(".card-list li")
    expect(rows).to_have_count(2)
    expect(rows.nth(0).locator("a")).to_have_attribute("href", "https://example.com/guide")
    expect(rows.nth(0).locator(".badge")).to_have_text("success")
    expect(rows.nth(1).locator(".badge")).to_have_text("paywall")
    expect(result.locator("summary")).to_contain_text("1 success")
    hrefs = (
        step(page, "model_output")
        .locator("a[data-citation]")
        .evaluate_all("links => links.map(a => a.href)")
    )
    assert "https://example.com/guide" in hrefs, hrefs

    expand(call)
    into_view(call)
    screenshot(page, "tools-url-context-desktop")


def test_google_maps_lists_places_and_cites_them_as_google_maps(new_page, fresh_user):
    page = new_page(fresh_user)
    choose(page, tools=["google_maps"])
    start(page, f"coffee near Paris {QUICK}")
    wait_for_reply(page)

    expect(step(page, "google_maps_call").locator(".chip")).to_contain_text(["coffee"])
    result = step(page, "google_maps_result")
    expand(result)
    places = result.locator(".places > li")
    expect(places.first).to_be_visible()
    count = places.count()
    assert count >= 1
    expect(result.locator(".place .attribution")).to_have_text(["Google Maps"] * count)
    place_links = result.locator(".place > a").evaluate_all("links => links.map(a => a.href)")
    assert all(h.startswith("https://maps.google.com/") for h in place_links), place_links

    answer = step(page, "model_output")
    cited = answer.locator("a[data-citation]").evaluate_all("links => links.map(a => a.href)")
    assert cited and set(cited) <= set(place_links), (cited, place_links)
    sources = answer.locator("ol.sources li.source-place")
    expect(sources).to_have_count(len(set(cited)))
    expect(sources.first.locator(".attribution")).to_have_text("Google Maps")

    into_view(result)
    screenshot(page, "tools-maps-desktop")


def test_calculator_function_is_called_and_the_answer_uses_its_result(
    new_page, fresh_user, browser_emulator
):
    page = new_page(fresh_user)
    choose(page, functions=["calculator"])
    start(page, "2*(3+4) [emulator:call=calculator]")
    wait_for_reply(page)

    call = step(page, "function_call")
    expect(call).to_have_count(1)
    expect(call.locator("summary")).to_contain_text("calculator")
    expand(call)
    assert json.loads(call.locator("pre.json").inner_text()) == {"expression": "2*(3+4)"}

    result = step(page, "function_result")
    expect(result).to_have_count(1)
    expect(result).to_have_attribute("data-call-id", call.get_attribute("data-id"))
    expand(result)
    assert json.loads(result.locator("pre.json").inner_text())["result"] == 14
    expect(step(page, "model_output")).to_contain_text("14")

    # The app ran the function and answered the model with its result, on the same chain.
    answers = [
        body
        for body in browser_emulator.store.create_bodies()
        if isinstance(body, dict) and '"function_result"' in json.dumps(body.get("input"))
    ]
    assert answers, "no function result reached the emulator"
    sent = json.dumps(answers[-1]["input"])
    assert '"result": 14' in sent or '\\"result\\": 14' in sent, sent
    assert answers[-1].get("previous_interaction_id")

    into_view(call)
    screenshot(page, "tools-calculator-desktop")


def test_thinking_is_a_collapsed_disclosure_that_opens_to_a_summary(
    new_page, fresh_user, browser_emulator
):
    page = new_page(fresh_user)
    choose(page, thinking_level="high", thinking_summaries="auto")
    start(page, f"plan a picnic {QUICK}")
    wait_for_reply(page)

    thought = step(page, "thought")
    expect(thought).to_have_count(1)
    assert thought.evaluate("el => el.tagName") == "DETAILS"
    expect(thought).not_to_have_attribute("open", "")
    # Its duration when this page saw it think (activity.js), else just "Thinking".
    expect(thought.locator("summary")).to_have_text(re.compile(r"^(Thinking|Thought for \d+ s)$"))
    body = thought.locator(".thought-body")
    expect(body).to_be_hidden()

    reveal(thought)
    thought.locator("summary").click()
    expect(body).to_be_visible()
    summaries = [
        part["text"]
        for s in interaction_with(browser_emulator, "plan a picnic").steps
        if s.get("type") == "thought"
        for part in s.get("summary") or []
    ]
    assert summaries, "the emulator sent no thought summary"
    shown = " ".join(body.inner_text().split())
    assert "plan a picnic" in shown and "The user wrote" in shown, shown

    screenshot(page, "tools-thinking-desktop")


def test_image_model_shows_a_served_png_never_base64(new_page, fresh_user):
    page = new_page(fresh_user)
    page.select_option("#composer select[name=model]", "gemini-3.1-flash-image")
    start(page, f"draw a teapot {QUICK}")
    wait_for_reply(page)

    image = f"#{assistant(page).get_attribute('id')} [data-step-type=model_output] img"
    expect(page.locator(image)).to_have_count(1)
    src = page.locator(image).get_attribute("src")
    assert re.fullmatch(r"/media/t/\d+/[0-9a-f]+/", src), src
    assert natural_width(page, image) > 0
    served = page.request.get(page.url.split("/c/")[0] + src)
    assert served.status == 200 and served.headers["content-type"] == "image/png"
    assert served.body().startswith(b"\x89PNG\r\n\x1a\n")
    assert "base64" not in page.content()
    screenshot(page, "tools-image-desktop")

    page.reload()  # the page the server renders links the same file
    assert natural_width(page, image) > 0
    assert "base64" not in page.content()


def test_unknown_step_type_is_a_readable_json_card(new_page, fresh_user):
    page = new_page(fresh_user)
    start(page, f"surprise me [emulator:unknown_step] {QUICK}")
    wait_for_reply(page)

    card = step(page, "hologram_projection")
    expect(card).to_have_count(1)
    expect(card.locator("summary")).to_contain_text("hologram_projection")
    expand(card)
    shown = card.locator("pre.json")
    expect(shown).to_be_visible()
    data = json.loads(shown.inner_text())
    assert data["type"] == "hologram_projection" and data["frames"], data
    expect(step(page, "model_output")).to_contain_text("surprise me")  # the answer still shows

    into_view(card)
    screenshot(page, "tools-unknown-step-desktop")
