"""The theme endpoint (`theme`): the sidebar toggle saves system, light or dark on the account;
the toggle shows the saved theme and offers the next one."""

import pytest
from django.urls import reverse

from chatsite.chat.models import Account

pytestmark = pytest.mark.django_db

JSON = {"HTTP_ACCEPT": "application/json"}


def saved_theme(user) -> str:
    return Account.objects.get(user=user).theme


def test_the_toggle_saves_the_theme_and_answers_json(client, user):
    client.force_login(user)
    response = client.post(reverse("theme"), {"theme": "dark"}, **JSON)
    assert response.status_code == 200 and response.json() == {"theme": "dark"}
    assert saved_theme(user) == "dark"
    client.post(reverse("theme"), {"theme": "light"}, **JSON)
    assert saved_theme(user) == "light"
    assert Account.objects.filter(user=user).count() == 1


def test_a_plain_form_post_goes_back_to_the_page_it_came_from(client, user):
    client.force_login(user)
    response = client.post(reverse("theme"), {"theme": "dark"}, HTTP_REFERER="http://testserver/c/")
    assert response.status_code == 302 and response["Location"] == "http://testserver/c/"
    elsewhere = client.post(
        reverse("theme"), {"theme": "light"}, HTTP_REFERER="https://evil.example/"
    )
    assert elsewhere["Location"] == reverse("settings")
    assert saved_theme(user) == "light"


def test_an_unknown_theme_is_refused_and_nothing_is_saved(client, user):
    client.force_login(user)
    response = client.post(reverse("theme"), {"theme": "purple"}, **JSON)
    assert response.status_code == 400
    assert not Account.objects.filter(user=user).exists()


def test_the_theme_is_posted_by_a_signed_in_person_only(client, user):
    assert client.post(reverse("theme"), {"theme": "dark"}).status_code == 302  # to sign-in
    client.force_login(user)
    assert client.get(reverse("theme")).status_code == 405


@pytest.mark.parametrize(
    ("saved", "label", "offered"),
    [("system", "Theme: System", "light"), ("light", "Theme: Light", "dark"),
     ("dark", "Theme: Dark", "system")],
)  # fmt: skip
def test_the_sidebar_toggle_shows_the_saved_theme_and_offers_the_next(
    client, user, saved, label, offered
):
    Account.objects.create(user=user, theme=saved)
    client.force_login(user)
    for url in ("/", "/c/", reverse("settings")):
        page = client.get(url).content.decode()
        assert f'action="{reverse("theme")}"' in page, url
        assert f'name="theme" value="{offered}" data-current="{saved}"' in page, url
        assert f'aria-label="{label}"' in page, url
