"""The admin: models registered; a staff user reads a conversation's transcript."""

import pytest

from chatsite.chat.models import Conversation, Turn

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(user):
    convo = Conversation.objects.create(
        owner=user, title="Quarterly plan", model="gemini-3.5-flash"
    )
    Turn.objects.create(
        conversation=convo,
        interaction_id="v1_abc",
        status="completed",
        user_input=[{"type": "text", "text": "Summarise the plan"}],
        steps=[
            {"type": "user_input", "content": [{"type": "text", "text": "Summarise the plan"}]},
            {
                "type": "model_output",
                "content": [{"type": "text", "text": "The plan has **three** parts."}],
            },
        ],
    )
    return convo


def test_staff_user_reads_the_transcript(client, make_user, conversation):
    admin = make_user("boss", is_staff=True, is_superuser=True)
    client.force_login(admin)
    page = client.get(f"/admin/chat/conversation/{conversation.pk}/change/").content.decode()
    assert "Summarise the plan" in page
    assert "<strong>three</strong>" in page  # rendered by the chat's own renderer
    assert 'data-step-type="model_output"' in page


def test_turn_page_shows_the_raw_steps(client, make_user, conversation):
    admin = make_user("boss", is_staff=True, is_superuser=True)
    client.force_login(admin)
    turn = conversation.turns.get()
    page = client.get(f"/admin/chat/turn/{turn.pk}/change/").content.decode()
    assert "v1_abc" in page and "&quot;model_output&quot;" in page


def test_conversation_list_in_admin_is_searchable_by_title(client, make_user, conversation):
    admin = make_user("boss", is_staff=True, is_superuser=True)
    client.force_login(admin)
    page = client.get("/admin/chat/conversation/?q=Quarterly").content.decode()
    assert "Quarterly plan" in page


def test_people_who_are_not_staff_cannot_open_the_admin(client, user, conversation):
    client.force_login(user)
    response = client.get(f"/admin/chat/conversation/{conversation.pk}/change/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
