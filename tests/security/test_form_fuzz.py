"""Every form of the pages, found by crawling them, with every field set to hostile values: never a 5xx.

A supervisor, an operator user and a visitor each crawl the pages from `/`
(same-site links, a bounded number), over a world with data: operators,
sources with weights, a queued and an assigned contact, a duplicate lead pair,
API tokens. Every <form> found (GET and POST; inputs, selects, textareas and
buttons, hidden ones too), and every crawled address with its query, is sent
again once per field with that field huge, negative, not a number, with a
NUL, 10,000 characters long, or not UTF-8, the other fields as the page gave
them and the CSRF token valid. No answer is a 5xx; a 4xx wrote nothing.
Then hypothesis sends the same forms random values, forged tokens and extra fields.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.strategies import SETTINGS, texts
from tests.helpers import PASSWORD, csrf_from

FORM = "application/x-www-form-urlencoded"
HOSTILE = {
    "huge": "9" * 25,
    "negative": "-1",
    "huge negative": "-99999999999999999999",
    "not a number": "abc",
    "NUL": "a\x00b",
    "10,000 characters": "x" * 10_000,
    "not UTF-8": b"\xed\xa0\x80\xff",  # a lone surrogate's bytes, then a byte no UTF-8 has
}
MAX_PAGES = 120  # crawled addresses per user
PER_SHAPE = 3  # addresses of one shape (/contacts/N...): their forms differ with the row's state
# Query arguments every list page reads, whether or not a pager links them.
LIST_ARGS = ("page", "after")
NEVER = ("/logout", "/static/", "/api/")  # signing out would end the crawl; the API has its own fuzz


# --- the world ---------------------------------------------------------------------------


@pytest.fixture
def world(app, factory, make_contact):
    # The sweep signs in many times from one address: no throttling here
    # (tests/security/test_signin_throttle.py tests it).
    app.config.update(CRM_LOGIN_MAX_FAILURES_ACCOUNT=0, CRM_LOGIN_MAX_FAILURES_ADDRESS=0)
    anna = factory.operator("Anna", max_load=10_000)
    boris = factory.operator("Boris", max_load=5)
    factory.operator("Clara", max_load=3, is_active=False)
    site = factory.source("Site", key="site", weights={anna: 2, boris: 1})
    queue_only = factory.source("Queue only", key="queue-only")
    # A duplicate pair: a phone lead, an email lead, then one contact with both.
    make_contact(site, phone="+7 999 100-00-01", name="Ivan")
    make_contact(site, email="ivan@example.org", name="Ivan P.")
    make_contact(site, phone="+7 999 100-00-01", email="ivan@example.org")
    for n in range(3):
        make_contact(site, phone=f"+7 999 200-00-0{n}", name=f"Assigned {n}")
    make_contact(queue_only, phone="+7 999 300-00-01", name="Queued")
    make_contact(queue_only, phone="+7 999 300-00-02", name="Queued too")
    return {
        "supervisor": factory.staff("supervisor", email="sup@example.com"),  # with an API token each
        "operator": factory.staff("operator", operator_id=boris.id, email="boris@example.com"),
        "visitor": None,
    }


# --- crawling ----------------------------------------------------------------------------


class PageParser(HTMLParser):
    """Same-site links and every form of a page: method, action, fields with the values the page gives."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self.links: list[str] = []
        self.forms: list[dict] = []
        self._form: dict | None = None
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = {name: value or "" for name, value in attrs}
        if tag == "a":
            link = same_site(a.get("href", ""))
            if link:
                self.links.append(link)
        elif tag == "form":
            method = (a.get("method") or "get").lower()
            action = same_site(a.get("action", "")) if a.get("action") else self.url
            htmx = bool(a.get("hx-post") or a.get("hx-get"))
            self._form = {"method": method, "action": action, "fields": {}, "buttons": [], "htmx": htmx}
            if action:
                self.forms.append(self._form)
        elif self._form is None or not a.get("name"):
            return
        elif tag == "button" or (tag == "input" and a.get("type") in ("submit", "image", "button")):
            self._form["buttons"].append((a["name"], a.get("value", "")))
        elif tag == "input" and a.get("type") in ("checkbox", "radio"):
            # Sent when checked; fuzzed either way.
            self._form["fields"].setdefault(a["name"], a.get("value", "on") if "checked" in a else None)
        elif tag == "input":
            self._form["fields"].setdefault(a["name"], a.get("value", ""))
        elif tag == "select":
            self._select = a["name"]
            self._form["fields"].setdefault(a["name"], None)
        elif tag == "textarea":
            self._textarea = a["name"]
            self._form["fields"].setdefault(a["name"], "")
        if tag == "option" and self._form is not None and self._select:
            fields = self._form["fields"]
            if fields[self._select] is None or "selected" in a:
                fields[self._select] = a.get("value", "")

    def handle_data(self, data):
        if self._form is not None and self._textarea:
            self._form["fields"][self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def same_site(href: str) -> str | None:
    parts = urlsplit(href)
    if parts.scheme not in ("", "http") or parts.netloc not in ("", "localhost"):
        return None
    if not parts.path.startswith("/"):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def shape(method: str, url: str, names=()) -> tuple:
    parts = urlsplit(url)
    keys = {name for name, _ in parse_qsl(parts.query, keep_blank_values=True)}
    return method, re.sub(r"/\d+", "/N", parts.path), tuple(sorted(keys | set(names)))


def crawl(client, limit: int = MAX_PAGES) -> list[dict]:
    """Every form on the pages reachable from `/`, and every address crawled, as forms to send."""
    queue, seen, per_shape = ["/"], set(), {}
    forms: dict[tuple, dict] = {}
    while queue and len(seen) < limit:
        url = queue.pop(0)
        page_shape = shape("get", url)
        if url in seen or per_shape.get(page_shape, 0) >= PER_SHAPE:
            continue
        if url.startswith(NEVER) or "export" in url:  # CSV downloads have no forms
            continue
        seen.add(url)
        per_shape[page_shape] = per_shape.get(page_shape, 0) + 1
        response = client.get(url)
        if response.status_code in (301, 302, 303) and same_site(response.headers["Location"]):
            queue.append(same_site(response.headers["Location"]))  # a visitor's / goes to /login
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        parts = urlsplit(url)
        # The address itself, its query and the list arguments: a GET "form".
        fields = dict(parse_qsl(parts.query, keep_blank_values=True))
        fields.update({name: fields.get(name, "1") for name in LIST_ARGS})
        address = {"method": "get", "action": parts.path, "fields": fields, "buttons": [], "htmx": False}
        forms.setdefault(shape("get", url), address)
        parser = PageParser(url)
        parser.feed(response.get_data(as_text=True))
        for form in parser.forms:
            if not form["action"].startswith(NEVER):
                forms.setdefault(shape(form["method"], form["action"], form["fields"]), form)
        queue += [link for link in parser.links if link not in seen]
    return list(forms.values())


def sign_in(client, email: str | None, must: bool = True) -> None:
    """Sign `client` in as `email` (None: stay a visitor)."""
    if email is None:
        return
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 303 or not must, response.get_data(as_text=True)[:300]


def signed_in_client(app, world, who: str):
    client = app.test_client()
    sign_in(client, world[who] and world[who].email)
    return client


def current_csrf(client) -> str:
    response = client.get("/login")
    if response.status_code == 302:  # signed in: any page carries the token
        response = client.get("/")
    return csrf_from(response.get_data(as_text=True))


def send(client, form: dict, fields: dict, htmx: bool = False):
    """Send `form` with `fields` (None values left out, bytes sent as they are), as a browser would.

    With `htmx`, as htmx does: the answer is then a fragment, another code path.
    """
    data = {name: value for name, value in fields.items() if value is not None}
    if form["buttons"]:
        data.setdefault(*form["buttons"][0])
    encoded = urlencode(data)
    headers = {"Accept": "text/html", **({"HX-Request": "true"} if htmx else {})}
    if form["method"] == "post":
        return client.post(urlsplit(form["action"]).path + _query(form), data=encoded, content_type=FORM,
                           headers=headers)
    return client.get(urlsplit(form["action"]).path, query_string=encoded, headers=headers)


def _query(form: dict) -> str:
    query = urlsplit(form["action"]).query
    return f"?{query}" if query else ""


def problem(response, before, factory) -> str | None:
    """What is wrong with the answer: a 5xx, or a 4xx that wrote something."""
    if response.status_code >= 500:
        return str(response.status_code)
    if 400 <= response.status_code < 500 and factory.counts() != before:
        return f"{response.status_code}, and it wrote something"
    return None


# --- the sweep -------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["supervisor", "operator", "visitor"])
def test_every_field_of_every_form_takes_hostile_values_without_a_5xx(app, factory, world, who):
    client = signed_in_client(app, world, who)
    forms = crawl(client)
    posts = [f for f in forms if f["method"] == "post"]
    expected = {"supervisor": 15, "operator": 5, "visitor": 2}[who]
    assert len(posts) >= expected, sorted(f["action"] for f in posts)
    csrf = current_csrf(client)
    sent, problems = 0, []
    for form in forms:
        for name in form["fields"]:
            for label, value in HOSTILE.items():
                fields = dict(form["fields"])
                if "csrf_token" in fields:
                    fields["csrf_token"] = csrf
                fields[name] = value
                for htmx in (False, True) if form["htmx"] else (False,):
                    before = factory.counts()
                    response = send(client, form, fields, htmx)
                    wrong = problem(response, before, factory)
                    if wrong:
                        how = " (htmx)" if htmx else ""
                        problems.append(f"{form['method']} {form['action']} {name}={label}{how}: {wrong}")
                    sent += 1
                    if response.status_code == 302 and "/login" in response.headers.get("Location", ""):
                        # The session ended (a form signed it out): sign in again and carry on.
                        sign_in(client, world[who] and world[who].email)
                        csrf = current_csrf(client)
                        if "csrf_token" in fields:
                            fields["csrf_token"] = csrf
    assert not problems, "\n".join(p[:200] for p in problems)
    assert sent >= 10 * expected


def test_the_crawl_finds_the_forms_that_once_answered_500(app, world):
    """The queue's assign form (page), the not-a-duplicate form (ids), the token form (label)."""
    forms = crawl(signed_in_client(app, world, "supervisor"))
    found = {shape(f["method"], f["action"], f["fields"])[1:] for f in forms if f["method"] == "post"}
    assert ("/queue/N/assign", ("csrf_token", "operator_id", "page")) in found
    assert ("/leads/duplicates/dismiss", ("csrf_token", "lead", "other")) in found
    assert ("/tokens", ("csrf_token", "expires_in_days", "label")) in found
    assert ("/leads/merge", ("csrf_token", "keep", "other", "token")) in found
    operator_forms = crawl(signed_in_client(app, world, "operator"))
    assert any(f["action"] == "/my/availability" for f in operator_forms)


# --- random values ---------------------------------------------------------------------------


@pytest.fixture
def crawled(app, world):
    """(client, who, form) for every form each of the three finds."""
    found = []
    for who in ("supervisor", "operator", "visitor"):
        client = signed_in_client(app, world, who)
        found += [(client, who, form) for form in crawl(client)]
    return found


form_values = st.one_of(st.just(None), texts, st.integers().map(str))


@SETTINGS
@given(data=st.data())
def test_forms_take_random_values_forged_tokens_and_extra_fields(world, factory, crawled, data):
    client, who, form = data.draw(st.sampled_from(crawled), label="form")
    fields = {}
    for name, value in form["fields"].items():
        if name == "csrf_token":
            fields[name] = value if data.draw(st.integers(0, 9), label="keep csrf") else "forged"
            continue
        new = data.draw(st.one_of(st.just(value), form_values), label=name)
        if new is not None:
            fields[name] = new.replace("\x00", "") if data.draw(st.booleans(), label="strip NUL") else new
    names = texts.filter(lambda t: "\x00" not in t)
    extra = data.draw(st.dictionaries(names, texts, max_size=2), label="extra")
    fields.update({k: v for k, v in extra.items() if k and k != "csrf_token"})
    fields = {k: v.encode("utf-8", "surrogatepass") for k, v in fields.items()}
    before = factory.counts()
    htmx = form["htmx"] and data.draw(st.booleans(), label="htmx")
    response = send(client, form, fields, htmx)
    assert problem(response, before, factory) is None, (who, form["action"])
    if response.status_code == 302 and "/login" in response.headers.get("Location", ""):
        # The supervisor's forms may have disabled the operator user or reset its password
        # (they run here, CSRF token and all); its forms then just send it to /login.
        sign_in(client, world[who] and world[who].email, must=False)


# --- ids in addresses ------------------------------------------------------------------------


def test_out_of_range_ids_in_any_url_are_404_not_500(app, factory, world):
    """Every <int:...> route, on the pages and the API, with an id no row can have."""
    huge = "9" * 30
    rules = [r for r in app.url_map.iter_rules() if "<int:" in r.rule]
    assert len(rules) > 15
    client = signed_in_client(app, world, "supervisor")
    token = current_csrf(client)
    api = {**world["supervisor"].headers, "Content-Type": "application/json"}
    before = factory.counts()
    for rule in rules:
        path = rule.rule
        for arg in rule.arguments:
            path = path.replace(f"<int:{arg}>", huge)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if path.startswith("/api/"):
                response = client.open(path, method=method, headers=api, data="{}")
            else:
                response = client.open(path, method=method, data={"csrf_token": token})
            assert response.status_code == 404, (method, path, response.status_code)
    assert factory.counts() == before
