"""XSS payloads in every user-supplied field that a page shows: escaped everywhere, never raw."""

from __future__ import annotations

from flask import url_for
from markupsafe import escape

from tests.api.helpers import Api, intake
from tests.helpers import csrf_from

from .helpers import post_form

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
PAYLOADS = (SCRIPT, IMG)
RAW_MARKERS = ("<script>alert", "<img src=x", "onerror=alert(1)>")
NOTE = f"Note {SCRIPT} {IMG}"


def assert_escaped(page: str, where: str, expect: tuple[str, ...] = ()) -> None:
    for marker in RAW_MARKERS:
        assert marker not in page, f"raw {marker!r} on {where}"
    for text in expect:
        assert str(escape(text)) in page, f"{text!r} not shown (escaped) on {where}"


def hostile_world(app, client, factory, sup, log_in):
    """Names, messages, identifiers, a token label and a sign-in email, all of them payloads."""
    api = Api(client, sup)
    op_script = factory.operator(f"Op {SCRIPT}", max_load=5)
    op_img = factory.operator(f"Op {IMG}", max_load=5)
    src_script = factory.source(f"Src {SCRIPT}", key="src-script", weights={op_script: 1})
    src_img = factory.source(f"Src {IMG}", key="src-img", weights={op_img: 1})
    empty = factory.source(f"Queue {IMG}", key="queue-src")
    first = intake(
        api,
        src_script.id,
        name=f"Lead {SCRIPT}",
        message=f"Msg {IMG}",
        external_id=f"ext {SCRIPT}",
        phone="+79991230001",
    )
    second = intake(
        api,
        src_img.id,
        name=f"Lead {IMG}",
        message=f"Msg {SCRIPT}",
        external_id=f"ext {IMG}",
        email="second@example.com",
    )
    queued = intake(api, empty.id, name=f"Queued {SCRIPT}", message=f"Queued {IMG}", phone="+79991230002")
    note = api.post(f"/contacts/{first['contact']['id']}/notes", {"text": NOTE})
    assert note.status_code == 201, note.get_data(as_text=True)
    # A failed sign-in with a payload as email (the audit trail shows it).
    anonymous = app.test_client()
    log_in(anonymous, f"{IMG}@example.com", "whatever-123")
    return {
        "operator_id": op_script.id,
        "source_id": src_img.id,
        "contact_id": first["contact"]["id"],
        "lead_id": second["lead"]["id"],
        "other_lead": first["lead"]["id"],
        "queued": queued["contact"]["id"],
        "user_id": sup.user_id,
        "token_id": 1,
    }


def web_get_pages(app, w) -> list[str]:
    """Every HTML page of the web blueprint that a GET reaches, with real ids."""
    paths = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("web.") or "GET" not in rule.methods or "export" in rule.endpoint:
            continue
        with app.test_request_context():
            paths.append(url_for(rule.endpoint, **{arg: w[arg] for arg in rule.arguments}))
    return paths


def test_payloads_are_escaped_on_every_page(app, client, factory, sup, sign_in, log_in):
    w = hostile_world(app, client, factory, sup, log_in)
    sign_in("supervisor")
    label_page = post_form(client, "/tokens", {"label": f"Label {SCRIPT} {IMG}"}, page="/tokens")
    assert_escaped(label_page.get_data(as_text=True), "/tokens (issued)", (f"Label {SCRIPT} {IMG}",))

    pages = web_get_pages(app, w) + [
        f"/leads?q={IMG}",
        f"/leads?q={SCRIPT}",
        f"/contacts?status={IMG}&source_id={IMG}",
        f"/login?next={IMG}",
        f"/audit?action={IMG}&actor={SCRIPT}",
        f"/leads/merge?keep={w['lead_id']}&other={w['other_lead']}",
    ]
    for path in pages:
        response = client.get(path)
        assert response.status_code < 500, path
        if response.mimetype == "text/html":
            assert_escaped(response.get_data(as_text=True), path)

    expected = {
        "/operators": (f"Op {SCRIPT}", f"Op {IMG}"),
        "/sources": (f"Src {SCRIPT}", f"Src {IMG}"),
        f"/sources/{w['source_id']}": (f"Src {IMG}",),
        f"/operators/{w['operator_id']}/edit": (f"Op {SCRIPT}",),
        "/": (f"Op {SCRIPT}", f"Op {IMG}"),
        "/queue": (f"Queued {SCRIPT}",),
        "/contacts": (f"Lead {SCRIPT}", f"Lead {IMG}", f"Src {SCRIPT}"),
        f"/contacts/{w['contact_id']}": (
            f"Lead {SCRIPT}",
            f"Msg {IMG}",
            f"ext {SCRIPT}",
            f"Op {SCRIPT}",
            f"Src {SCRIPT}",
            NOTE,
        ),
        f"/leads/{w['lead_id']}": (f"Lead {IMG}", f"ext {IMG}", f"Msg {SCRIPT}"),
        "/leads?q=Lead": (f"Lead {SCRIPT}", f"Lead {IMG}"),
        f"/leads?q={IMG}": (IMG,),
        "/tokens": (f"Label {SCRIPT} {IMG}",),
        "/audit": (f"{IMG}@example.com".lower(),),
    }
    for path, texts in expected.items():
        response = client.get(path)
        assert response.status_code == 200, path
        assert_escaped(response.get_data(as_text=True), path, texts)


def test_payloads_are_escaped_for_an_operator_user_too(app, client, factory, sup, sign_in, log_in):
    w = hostile_world(app, client, factory, sup, log_in)
    sign_in("operator", operator_id=w["operator_id"])
    for path in (
        "/",
        "/queue",
        "/my",
        "/contacts",
        f"/contacts/{w['contact_id']}",
        f"/contacts/{w['queued']}",
        "/contacts/new",
        f"/leads/{w['lead_id']}",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert_escaped(response.get_data(as_text=True), path)
    assert_escaped(client.get("/my").get_data(as_text=True), "/my", (f"Lead {SCRIPT}", f"Msg {IMG}", NOTE))


def test_payloads_sent_back_in_refused_forms_are_escaped(client, factory, sign_in):
    sign_in("supervisor")
    source = factory.source("Plain", key="plain")
    token = csrf_from(client.get("/contacts/new").get_data(as_text=True))
    for payload in PAYLOADS:
        response = client.post(
            "/contacts/new",
            data={
                "csrf_token": token,
                "source_id": source.id,
                "phone": payload,
                "email": payload,
                "external_id": payload,
                "name": payload,
                "message": payload,
            },
        )
        assert 400 <= response.status_code < 500
        assert_escaped(response.get_data(as_text=True), "/contacts/new (refused)", (payload,))
        response = client.post(
            "/operators/new", data={"csrf_token": token, "name": payload, "max_load": payload}
        )
        assert response.status_code == 422
        assert_escaped(response.get_data(as_text=True), "/operators/new (refused)", (payload,))
        response = client.post("/sources/new", data={"csrf_token": token, "name": payload, "key": payload})
        assert response.status_code == 422
        assert_escaped(response.get_data(as_text=True), "/sources/new (refused)", (payload,))
        response = client.post(
            "/users/new",
            data={
                "csrf_token": token,
                "email": payload,
                "role": "operator",
                "operator_id": "0",
                "password": "password-123",
            },
        )
        assert response.status_code == 422
        assert_escaped(response.get_data(as_text=True), "/users/new (refused)")


def test_thank_you_url_payloads_are_escaped(client, factory, sign_in):
    """thank_you_url accepts any absolute http(s) URL without spaces, so markup can ride in it."""
    sup = sign_in("supervisor")
    api = Api(client, sup)
    payloads = ['https://x.example/"><script>alert(1)</script>', 'https://x.example/"><img/src=x/onerror=alert(1)>']
    for n, url in enumerate(payloads):
        created = api.post("/sources", {"name": f"S{n}", "thank_you_url": "https://ok.example/"})
        assert created.status_code == 201, created.get_data(as_text=True)
        source_id = created.get_json()["id"]
        updated = api.patch(f"/sources/{source_id}", {"thank_you_url": url})
        assert updated.status_code == 200, updated.get_data(as_text=True)
        for path in (f"/sources/{source_id}", f"/sources/{source_id}/edit", "/audit", "/sources"):
            page = client.get(path).get_data(as_text=True)
            assert "<script>alert" not in page and "<img/src=x" not in page, path
        assert str(escape(url)) in client.get(f"/sources/{source_id}").get_data(as_text=True)
