"""Helpers of the security tests: posting a staff form, signing in from a given address."""

from __future__ import annotations

from tests.helpers import csrf_from

GENERIC = "Wrong email or password."
THROTTLED = "Too many failed sign-ins."


def attempt(client, email: str, password: str, address: str):
    """One sign-in from `address`; the CSRF token is read from the same address."""
    environ = {"REMOTE_ADDR": address}
    token = csrf_from(client.get("/login", environ_base=environ).get_data(as_text=True))
    return client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token}, environ_base=environ
    )


def fails(response) -> bool:
    return response.status_code == 200 and GENERIC in response.get_data(as_text=True)


def throttled(response) -> bool:
    page = response.get_data(as_text=True)
    return response.status_code == 429 and THROTTLED in page and GENERIC not in page


def post_form(client, path: str, data: dict, page: str = "/login", **kwargs):
    """POST a form with the CSRF token of the client's session, read from `page`."""
    response = client.get(page)
    if response.status_code == 302:  # /login sends a signed-in user on
        response = client.get("/")
    token = csrf_from(response.get_data(as_text=True))
    return client.post(path, data={**data, "csrf_token": token}, **kwargs)
