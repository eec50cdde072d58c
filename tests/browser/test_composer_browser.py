"""The composer in a real browser: the model picker, the settings panel and structured output,
checked both on the page and in what reaches the API (the emulator's create bodies)."""

import json

from jsonschema import validate
from playwright.sync_api import expect

from .conftest import screenshot
from .ui import (
    body_with,
    choose,
    interaction_with,
    open_settings,
    send,
    start,
    step,
    wait_for_reply,
)

QUICK = "[emulator:pace=0]"
DEFAULT_MODEL = "gemini-3.5-flash"
OTHER_MODEL = "gemini-3.1-pro-preview"
MODEL_PICKER = "#composer select[name=model]"


def first_turn_then_switch(page, emulator, words: str):
    """A first turn on the default model, then the picker set to OTHER_MODEL; returns the first
    turn's interaction id."""
    start(page, f"my project is called {words} {QUICK}")
    wait_for_reply(page, turns=1)
    first = interaction_with(emulator, words)
    assert first.model == DEFAULT_MODEL
    expect(page.locator(".main-head .model-name")).to_have_text(DEFAULT_MODEL)
    page.select_option(MODEL_PICKER, OTHER_MODEL)
    return first.id


def test_model_picker_switches_the_model_and_the_follow_up_still_chains(
    new_page, fresh_user, browser_emulator
):
    page = new_page(fresh_user)
    first_id = first_turn_then_switch(page, browser_emulator, "Heron")
    send(page, f"what is it called? {QUICK}")
    wait_for_reply(page, turns=2)

    body = body_with(browser_emulator, "what is it called?")
    assert body["model"] == OTHER_MODEL
    assert body["previous_interaction_id"] == first_id  # the chain survives the switch
    expect(page.locator("[data-role=assistant]").last).to_contain_text("Heron")

    page.reload()
    expect(page.locator(".main-head .model-name")).to_have_text(OTHER_MODEL)
    expect(page.locator(MODEL_PICKER)).to_have_value(OTHER_MODEL)


def test_the_header_shows_the_new_model_as_soon_as_it_is_used(
    new_page, fresh_user, browser_emulator
):
    page = new_page(fresh_user)
    first_turn_then_switch(page, browser_emulator, "Osprey")
    send(page, f"and now? {QUICK}")
    wait_for_reply(page, turns=2)
    expect(page.locator(".main-head .model-name")).to_have_text(OTHER_MODEL, timeout=3000)


def test_the_composer_keeps_the_chosen_model_and_settings_after_sending(
    new_page, fresh_user, browser_emulator
):
    page = new_page(fresh_user)
    first_turn_then_switch(page, browser_emulator, "Kestrel")
    choose(page, tools=["google_search"], system_instruction="Answer in one line.")
    send(page, f"second {QUICK}")
    wait_for_reply(page, turns=2)
    assert body_with(browser_emulator, "second")["model"] == OTHER_MODEL

    send(page, f"third, changing nothing {QUICK}")  # the person touched nothing in between
    wait_for_reply(page, turns=3)
    third = body_with(browser_emulator, "third, changing nothing")
    assert (third["model"], third.get("system_instruction"), third.get("tools")) == (
        OTHER_MODEL,
        "Answer in one line.",
        [{"type": "google_search"}],
    )
    expect(page.locator(MODEL_PICKER)).to_have_value(OTHER_MODEL)


SETTINGS = {
    "system_instruction": "Answer like a ship's captain.",
    "thinking_level": "low",
    "thinking_summaries": "auto",
    "max_output_tokens": "900",
    "aspect_ratio": "16:9",
    "image_size": "2K",
    "voice": "Puck",
}
TOOLS = ["google_search", "url_context"]
FUNCTIONS = ["current_time"]


def test_settings_persist_across_a_reload_and_are_sent_every_turn(
    new_page, fresh_user, browser_emulator
):
    page = new_page(fresh_user)
    choose(page, tools=TOOLS, functions=FUNCTIONS, **SETTINGS)
    start(page, f"what time is it? {QUICK}")
    wait_for_reply(page, turns=1)

    body = body_with(browser_emulator, "what time is it?")
    assert body["system_instruction"] == SETTINGS["system_instruction"]
    assert body["generation_config"]["thinking_level"] == "low"
    assert body["generation_config"]["max_output_tokens"] == 900
    assert "speech_config" not in body["generation_config"]  # the voice is for speech models
    kinds = [tool["type"] for tool in body["tools"]]
    assert set(TOOLS) <= set(kinds) and "function" in kinds, body["tools"]

    page.reload()
    open_settings(page)
    for name, value in SETTINGS.items():
        expect(page.locator(f"#composer [name={name}]")).to_have_value(value)
    for tool in TOOLS:
        expect(page.locator(f"#composer input[name=tools][value={tool}]")).to_be_checked()
    for tool in ("code_execution", "google_maps"):
        expect(page.locator(f"#composer input[name=tools][value={tool}]")).not_to_be_checked()
    expect(page.locator("#composer input[name=functions][value=current_time]")).to_be_checked()
    expect(page.locator("#composer input[name=functions][value=calculator]")).not_to_be_checked()
    screenshot(page, "composer-settings-after-reload-desktop")

    send(page, f"and again? {QUICK}")  # interaction-scoped settings are re-sent every turn
    wait_for_reply(page, turns=2)
    again = body_with(browser_emulator, "and again?")
    assert again["system_instruction"] == SETTINGS["system_instruction"]
    assert again["generation_config"] == body["generation_config"]
    assert again["tools"] == body["tools"]
    assert again["previous_interaction_id"]


def test_choosing_an_agent_says_which_settings_it_ignores(new_page, fresh_user):
    page = new_page(fresh_user)
    open_settings(page)
    note = page.locator("#agent-note")
    expect(note).to_be_hidden()
    page.select_option(MODEL_PICKER, "antigravity-preview-05-2026")
    expect(note).to_be_visible()
    expect(note).to_have_text(
        "This agent ignores Thinking, Max output tokens, Aspect ratio, Image size, Voice and "
        "Thought summaries."
    )
    page.select_option(MODEL_PICKER, "deep-research-pro-preview-12-2025")
    expect(note).not_to_contain_text("Thought summaries")
    page.select_option(MODEL_PICKER, DEFAULT_MODEL)
    expect(note).to_be_hidden()


SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "year": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["name", "year", "tags"],
}


def test_structured_output_shows_the_answer_as_checked_json(new_page, fresh_user, browser_emulator):
    page = new_page(fresh_user)
    choose(page, response_schema=json.dumps(SCHEMA, indent=2))
    start(page, f"describe a famous ship {QUICK}")
    wait_for_reply(page)

    body = body_with(browser_emulator, "describe a famous ship")
    assert body["response_format"]["schema"] == SCHEMA
    answer = step(page, "model_output")
    check = answer.locator(".structured-check")
    expect(check).to_have_text("JSON that matches the schema")
    expect(check).to_have_class("structured-check is-valid")
    shown = json.loads(answer.locator("pre.json").inner_text())
    validate(shown, SCHEMA)
    screenshot(page, "composer-structured-output-desktop")


def test_an_error_after_the_first_message_is_shown_without_a_reload(new_page, fresh_user):
    page = new_page(fresh_user)
    start(page, f"hello {QUICK}")
    wait_for_reply(page, turns=1)
    choose(page, response_schema="{not json")
    send(page, "with a broken schema")
    expect(page.locator("#composer-error")).to_contain_text(
        "The schema is not valid JSON", timeout=5000
    )
    expect(page.locator("#composer textarea[name=message]")).to_have_value("with a broken schema")
    assert page.locator("[data-turn-id]").count() == 1  # nothing was sent


def test_an_error_is_shown_in_the_composer_on_a_loaded_conversation(new_page, fresh_user):
    page = new_page(fresh_user)
    start(page, f"hello {QUICK}")
    wait_for_reply(page, turns=1)
    page.reload()
    choose(page, response_schema="{not json")
    send(page, "with a broken schema")
    expect(page.locator("#composer-error")).to_contain_text("The schema is not valid JSON")
    expect(page.locator("#composer textarea[name=message]")).to_have_value("with a broken schema")
    assert page.locator("[data-turn-id]").count() == 1


# -- the settings as a product: chips, Advanced, saved when changed, errors beside fields ------

SUMMARY = "#composer [data-settings-summary] .chip"
SAVED = "#settings-saved"


def chips(page):
    return page.locator(SUMMARY)


def test_chips_beside_the_model_picker_say_what_is_on_and_follow_each_change(new_page, fresh_user):
    page = new_page(fresh_user)
    expect(chips(page)).to_have_count(0)
    choose(page, tools=["google_search", "code_execution"], thinking_level="high")
    expect(chips(page)).to_have_text(["Search", "Code", "Thinking: high"])
    choose(page, response_schema=json.dumps(SCHEMA))
    page.locator("#composer [name=response_schema]").blur()
    expect(chips(page)).to_have_text(["Search", "Code", "Thinking: high", "JSON"])
    page.uncheck("#composer input[name=tools][value=google_search]")
    expect(chips(page)).to_have_text(["Code", "Thinking: high", "JSON"])
    picker = page.locator(MODEL_PICKER).bounding_box()
    summary = chips(page).first.bounding_box()
    assert picker and summary and abs(picker["y"] - summary["y"]) < 20  # one line, beside it

    start(page, f"chips {QUICK}")  # the server draws the same chips for the saved settings
    page.reload()
    expect(chips(page)).to_have_text(["Code", "Thinking: high", "JSON"])


def test_file_search_schema_and_mcp_wait_under_advanced(new_page, fresh_user):
    page = new_page(fresh_user)
    open_settings(page)
    advanced = page.locator("#composer details.advanced")
    expect(advanced.locator("summary")).to_contain_text("Advanced")
    for name in ("file_search_stores", "response_schema"):
        expect(advanced.locator(f"[name={name}]")).to_be_hidden()
    expect(page.locator("#composer [name=system_instruction]")).to_be_visible()
    expect(page.locator("#composer input[name=tools]").first).to_be_visible()
    advanced.locator("summary").click()
    expect(advanced.locator("[name=response_schema]")).to_be_visible()


def test_a_change_on_a_conversation_is_saved_when_made(new_page, fresh_user, browser_emulator):
    page = new_page(fresh_user)
    start(page, f"first {QUICK}")
    wait_for_reply(page, turns=1)
    page.fill("#composer textarea[name=message]", "a draft, not sent yet")
    saves = []
    page.on("request", lambda r: "/settings/" in r.url and saves.append(r.post_data or ""))
    choose(page, thinking_level="high", tools=["url_context"])
    expect(page.locator(SAVED)).to_have_text("saved")
    assert saves and not any("a draft" in body for body in saves)  # settings only
    expect(page.locator("#composer textarea[name=message]")).to_have_value("a draft, not sent yet")
    page.fill("#composer textarea[name=message]", "")
    page.select_option(MODEL_PICKER, OTHER_MODEL)
    expect(page.locator(".main-head .model-name")).to_have_text(OTHER_MODEL)

    page.reload()  # nothing was sent: the change was saved when made
    expect(page.locator(MODEL_PICKER)).to_have_value(OTHER_MODEL)
    expect(chips(page)).to_have_text(["URLs", "Thinking: high"])
    send(page, f"second {QUICK}")
    wait_for_reply(page, turns=2)
    body = body_with(browser_emulator, "second")
    assert body["model"] == OTHER_MODEL
    assert body["generation_config"]["thinking_level"] == "high"
    assert body["tools"] == [{"type": "url_context"}]


def test_a_bad_schema_is_refused_beside_its_field_in_words(new_page, fresh_user):
    page = new_page(fresh_user)
    start(page, f"first {QUICK}")
    wait_for_reply(page, turns=1)
    choose(page, response_schema="{not json")
    page.locator("#composer [name=response_schema]").blur()
    error = page.locator("#composer #error-response_schema")
    expect(error).to_contain_text("The schema is not valid JSON: check line 1")
    expect(error).not_to_contain_text("Expecting")
    expect(error).to_be_in_viewport()  # the panel scrolls; the message is brought into sight
    expect(page.locator(SAVED)).to_contain_text("not saved")
    screenshot(page, "composer-error-beside-field-desktop")

    page.fill("#composer [name=response_schema]", "[1, 2]")
    page.locator("#composer [name=response_schema]").blur()
    expect(error).to_have_text(
        'The schema must be a JSON object, like {"type": "object", "properties": {…}}.'
    )
    page.reload()  # refused: nothing was saved
    expect(chips(page)).to_have_count(0)

    choose(page, response_schema=json.dumps(SCHEMA))
    page.locator("#composer [name=response_schema]").blur()
    expect(page.locator(SAVED)).to_have_text("saved")
    expect(error).to_be_empty()
    expect(chips(page)).to_have_text(["JSON"])


def test_on_a_new_chat_changes_wait_in_the_form_for_the_first_send(
    new_page, fresh_user, browser_emulator
):
    page = new_page(fresh_user)
    saves = []
    page.on("request", lambda r: "/settings/" in r.url and saves.append(r.url))
    choose(page, thinking_level="low")
    expect(page.locator(SAVED)).to_have_text("kept with your first message")
    start(page, f"new chat settings {QUICK}")
    wait_for_reply(page, turns=1)
    assert saves == []
    assert body_with(browser_emulator, "new chat settings")["generation_config"] == {
        "thinking_level": "low"
    }


def test_an_agent_marks_each_setting_it_ignores(new_page, fresh_user):
    page = new_page(fresh_user)
    choose(page, thinking_level="high", tools=["google_search"])
    ignored = page.locator("#composer [data-setting=thinking_level] [data-ignored-note]")
    expect(ignored).to_be_hidden()
    page.select_option(MODEL_PICKER, "antigravity-preview-05-2026")
    expect(ignored).to_have_text("Not used by agents")
    expect(ignored).to_be_visible()
    expect(page.locator("#composer [data-setting=tools] [data-ignored-note]")).to_be_hidden()
    thinking = page.locator(f"{SUMMARY}[data-field=thinking_level]")
    expect(thinking).to_have_class("chip is-ignored")
    expect(thinking).to_have_attribute("title", "Not used by agents")
    expect(page.locator(f"{SUMMARY}[data-field=tools]")).to_have_class("chip")
    page.select_option(MODEL_PICKER, DEFAULT_MODEL)
    expect(ignored).to_be_hidden()
    expect(thinking).to_have_class("chip")


def test_saying_a_change_was_saved_moves_no_field_under_a_finger(new_page, fresh_user):
    """At phone width the status once went from two lines to one when "saved" came back, and the
    fields below jumped up under a click already on its way (a test clicking the next box missed
    it). Each field stays where it was."""
    page = new_page(fresh_user, width=390, height=844)
    choose(page, tools=["google_search", "google_maps"])
    start(page, f"first {QUICK}")
    wait_for_reply(page, turns=1)
    page.reload()
    open_settings(page)
    maps = page.locator("#composer input[name=tools][value=google_maps]")
    before = maps.bounding_box()
    page.uncheck("#composer input[name=tools][value=google_search]")
    expect(page.locator(SAVED)).to_have_text("saved")
    assert maps.bounding_box() == before
