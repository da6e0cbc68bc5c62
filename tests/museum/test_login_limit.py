"""The admin login refuses a password guesser (django-axes): after the limit of
wrong passwords, even the right one is refused, per username and per address;
the address comes from X-Forwarded-For only when proxies are configured."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import RequestFactory, override_settings
from django.urls import reverse

from museum.clientip import client_ip

PASSWORD = "the-right-password-42"
LOGIN = reverse("admin:login")


@pytest.fixture
def admin_user(db):
    return User.objects.create_superuser("curie", password=PASSWORD)


def attempt(client, username: str, password: str, **headers):
    return client.post(LOGIN, {"username": username, "password": password, "next": "/admin/"}, **headers)


def logged_in(client) -> bool:
    return client.get(reverse("admin:index")).status_code == 200


def test_the_right_password_after_the_limit_of_wrong_ones_is_refused(client, admin_user, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert attempt(client, "curie", "guess").status_code == 200  # the form again, with its error
    assert attempt(client, "curie", "guess").status_code == 429  # the last one allowed

    response = attempt(client, "curie", PASSWORD)

    assert response.status_code == 429
    assert "Too many wrong passwords" in response.content.decode()
    assert not logged_in(client)


def test_a_few_typos_then_the_right_password_logs_in_and_clears_the_count(client, admin_user, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        attempt(client, "curie", "typo")
    assert attempt(client, "curie", PASSWORD).status_code == 302
    assert logged_in(client)
    client.logout()
    # The success reset the count: another near-limit run of typos does not lock.
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        attempt(client, "curie", "typo")
    assert attempt(client, "curie", PASSWORD).status_code == 302


def test_one_address_guessing_many_usernames_is_locked_out(client, admin_user, settings):
    for n in range(settings.AXES_FAILURE_LIMIT):
        attempt(client, f"someone{n}", "guess", REMOTE_ADDR="203.0.113.9")

    assert attempt(client, "curie", PASSWORD, REMOTE_ADDR="203.0.113.9").status_code == 429
    # Another address may still log in as curie: the lock is that address's.
    assert attempt(client, "curie", PASSWORD, REMOTE_ADDR="198.51.100.7").status_code == 302


def test_a_forged_forwarded_for_header_does_not_escape_the_limit_without_a_proxy(
    client, admin_user, settings
):
    assert settings.TRUSTED_PROXY_COUNT == 0
    for n in range(settings.AXES_FAILURE_LIMIT):
        attempt(client, f"someone{n}", "guess", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}")

    locked = attempt(client, "other", "guess", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="10.9.9.9")
    assert locked.status_code == 429


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "198.51.100.7", "172.18.0.5"),  # no proxy configured: the header is the client's word
        (1, "198.51.100.7", "198.51.100.7"),
        (1, "6.6.6.6, 198.51.100.7", "198.51.100.7"),  # a forged first entry is ignored
        (2, "6.6.6.6, 198.51.100.7, 10.0.0.2", "198.51.100.7"),
        (2, "198.51.100.7", "172.18.0.5"),  # fewer hops than proxies: not through them
    ],
)
def test_the_client_address_comes_from_the_proxy_header_only_when_configured(proxies, forwarded, expected):
    request = RequestFactory().get("/", REMOTE_ADDR="172.18.0.5", HTTP_X_FORWARDED_FOR=forwarded)
    with override_settings(TRUSTED_PROXY_COUNT=proxies):
        assert client_ip(request) == expected


def test_behind_a_proxy_each_client_is_counted_apart(client, admin_user, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = {"REMOTE_ADDR": "172.18.0.5"}
    for n in range(settings.AXES_FAILURE_LIMIT):
        attempt(client, f"someone{n}", "guess", HTTP_X_FORWARDED_FOR="203.0.113.9", **proxy)

    assert attempt(client, "x", "guess", HTTP_X_FORWARDED_FOR="203.0.113.9", **proxy).status_code == 429
    # The guesser's lock is not everyone's, though all come through one proxy.
    assert attempt(client, "curie", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.7", **proxy).status_code == 302
