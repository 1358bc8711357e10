"""Lead matching and operator choice as seen through the webhook."""

from __future__ import annotations

from crm_web.services.operators import update_operator

from .helpers import (
    PHONE,
    active_contacts_by_operator,
    assert_created,
    lead_row,
    operator_load,
    post_json,
    rows,
)

# --- lead matching ---------------------------------------------------------


def duplicates(app) -> set[tuple[int, int]]:
    return set(rows(app, "SELECT lead_id, duplicate_of_id FROM lead_duplicates"))


def test_several_matching_leads_go_to_external_id_then_phone_then_email(app, client, factory):
    source = factory.source(key="site")
    by_ext = assert_created(post_json(client, source, {"external_id": "crm-7"}))["lead"]["id"]
    by_phone = assert_created(post_json(client, source, {"phone": "+7 999 123-45-67"}))["lead"]["id"]
    by_email = assert_created(post_json(client, source, {"email": "ivan@example.com"}))["lead"]["id"]
    assert len({by_ext, by_phone, by_email}) == 3
    assert duplicates(app) == set()

    # All three match: the lead of external_id wins, the others are possible duplicates of it.
    body = assert_created(post_json(
        client, source, {"external_id": "crm-7", "phone": "89991234567", "email": "IVAN@example.com"}
    ))
    assert body["lead"] == {"id": by_ext, "created": False}
    assert duplicates(app) == {(by_phone, by_ext), (by_email, by_ext)}
    # Identifiers held by other leads stay with them: nothing moved, nothing overwritten.
    assert lead_row(app, by_ext) == {"external_id": "crm-7", "phone": None, "email": None, "name": None}
    assert lead_row(app, by_phone)["phone"] == PHONE
    assert lead_row(app, by_email)["email"] == "ivan@example.com"

    # Without external_id, phone wins over email.
    body = assert_created(post_json(client, source, {"phone": PHONE, "email": "ivan@example.com"}))
    assert body["lead"] == {"id": by_phone, "created": False}
    assert (by_email, by_phone) in duplicates(app)

    # Contacts went to the chosen leads; no lead was created by the matching requests.
    counts = factory.counts()
    assert counts["leads"] == 3
    assert counts["contacts"] == 5
    per_lead = dict(rows(app, "SELECT lead_id, COUNT(*) FROM contacts GROUP BY lead_id"))
    assert per_lead == {by_ext: 2, by_phone: 2, by_email: 1}


def test_external_id_and_email_match_two_leads_external_id_wins(app, client, factory):
    source = factory.source(key="site")
    by_email = assert_created(post_json(client, source, {"email": "a@example.com"}))["lead"]["id"]
    by_ext = assert_created(post_json(client, source, {"external_id": "x-1", "phone": PHONE}))["lead"]["id"]
    body = assert_created(post_json(client, source, {"email": "a@example.com", "external_id": "x-1"}))
    assert body["lead"] == {"id": by_ext, "created": False}
    assert duplicates(app) == {(by_email, by_ext)}


def test_duplicate_pair_is_recorded_once(app, client, factory):
    source = factory.source(key="site")
    a = assert_created(post_json(client, source, {"email": "a@example.com"}))["lead"]["id"]
    b = assert_created(post_json(client, source, {"phone": PHONE}))["lead"]["id"]
    for _ in range(3):
        body = assert_created(post_json(client, source, {"phone": PHONE, "email": "a@example.com"}))
        assert body["lead"]["id"] == b
    assert duplicates(app) == {(a, b)}
    assert factory.counts()["lead_duplicates"] == 1


def test_fill_in_adds_missing_identifiers_and_never_overwrites(app, client, factory):
    source = factory.source(key="site")
    lead = assert_created(post_json(client, source, {"phone": PHONE, "name": "Ivan"}))["lead"]["id"]

    body = assert_created(post_json(
        client, source, {"phone": "8 999 123 45 67", "email": "ivan@example.com", "name": "Petr"}
    ))
    assert body["lead"] == {"id": lead, "created": False}
    assert lead_row(app, lead) == {"external_id": None, "phone": PHONE, "email": "ivan@example.com",
                                   "name": "Ivan"}

    # A different email does not replace the stored one; the missing external_id is filled in.
    body = assert_created(post_json(
        client, source, {"phone": PHONE, "email": "other@example.com", "external_id": "crm-1"}
    ))
    assert body["lead"] == {"id": lead, "created": False}
    assert lead_row(app, lead) == {"external_id": "crm-1", "phone": PHONE, "email": "ivan@example.com",
                                   "name": "Ivan"}
    # The contact keeps what its own request carried.
    assert rows(app, "SELECT name FROM contacts WHERE id = :id", id=body["contact"]["id"]) == [(None,)]

    # An external_id that differs from the stored one does not overwrite it either.
    body = assert_created(post_json(client, source, {"phone": PHONE, "external_id": "crm-2"}))
    assert body["lead"] == {"id": lead, "created": False}
    assert lead_row(app, lead)["external_id"] == "crm-1"
    assert factory.counts()["leads"] == 1


def test_fill_in_sets_a_missing_name(app, client, factory):
    source = factory.source(key="site")
    lead = assert_created(post_json(client, source, {"email": "olga@example.com"}))["lead"]["id"]
    assert lead_row(app, lead)["name"] is None
    assert_created(post_json(client, source, {"email": "Olga@Example.com", "name": "Olga"}))
    assert lead_row(app, lead)["name"] == "Olga"
    assert_created(post_json(client, source, {"email": "olga@example.com", "name": "Not Olga"}))
    assert lead_row(app, lead)["name"] == "Olga"


def test_lead_is_shared_across_sources(client, factory):
    site = factory.source(key="site")
    calls = factory.source(key="calls")
    first = assert_created(post_json(client, site, {"phone": PHONE}))
    second = assert_created(post_json(client, calls, {"phone": "89991234567"}))
    assert second["lead"] == {"id": first["lead"]["id"], "created": False}
    assert second["contact"]["source_id"] == calls.id


# --- operator choice -------------------------------------------------------


def test_operator_never_gets_more_than_max_load(app, client, factory):
    small = factory.operator("Small", max_load=2)
    source = factory.source(key="site", weights={small: 1})
    bodies = [assert_created(post_json(client, source, {"phone": f"+7999123450{i}"})) for i in range(5)]
    assert [b["operator_available"] for b in bodies] == [True, True, False, False, False]
    assert [b["contact"]["operator"] for b in bodies[:2]] == [{"id": small.id, "name": "Small"}] * 2
    assert active_contacts_by_operator(app) == {small.id: 2, None: 3}
    assert operator_load(app, small.id) == 2


def test_full_operator_leaves_the_rest_to_others(app, client, factory):
    small = factory.operator("Small", max_load=2)
    big = factory.operator("Big", max_load=100)
    # Small is by far the likeliest choice while it has room.
    source = factory.source(key="site", weights={small: "999.99", big: "0.01"})
    for i in range(10):
        body = assert_created(post_json(client, source, {"phone": f"+7999123450{i}"}))
        assert body["operator_available"] is True
    loads = active_contacts_by_operator(app)
    assert loads[small.id] <= 2
    assert loads[small.id] + loads[big.id] == 10
    assert loads[small.id] == 2  # with these weights it fills up first
    assert (operator_load(app, small.id), operator_load(app, big.id)) == (2, 8)


def test_load_counts_across_sources(app, client, factory):
    small = factory.operator("Small", max_load=2)
    site = factory.source(key="site", weights={small: 1})
    calls = factory.source(key="calls", weights={small: 1})
    assert_created(post_json(client, site, {"phone": "+79991234501"}))
    assert_created(post_json(client, calls, {"phone": "+79991234502"}))
    body = assert_created(post_json(client, site, {"phone": "+79991234503"}))
    assert body["operator_available"] is False
    body = assert_created(post_json(client, calls, {"phone": "+79991234504"}))
    assert body["operator_available"] is False
    assert active_contacts_by_operator(app) == {small.id: 2, None: 2}


def test_closing_a_contact_frees_capacity_for_the_webhook(client, factory):
    small = factory.operator("Small", max_load=1)
    source = factory.source(key="site", weights={small: 1})
    first = assert_created(post_json(client, source, {"phone": "+79991234501"}))
    assert assert_created(post_json(client, source, {"phone": "+79991234502"}))["operator_available"] is False
    boss = factory.staff("supervisor")
    closed = client.post(f"/api/v1/contacts/{first['contact']['id']}/close", headers=boss.headers)
    assert closed.status_code == 200, closed.get_data(as_text=True)
    body = assert_created(post_json(client, source, {"phone": "+79991234503"}))
    assert body["contact"]["operator"] == {"id": small.id, "name": "Small"}


def test_inactive_operator_is_never_chosen(app, client, factory):
    sleeping = factory.operator("Sleeping", max_load=100, is_active=False)
    awake = factory.operator("Awake", max_load=100)
    source = factory.source(key="site", weights={sleeping: "999.99", awake: "0.01"})
    for i in range(15):
        body = assert_created(post_json(client, source, {"phone": f"+799912345{i:02d}"}))
        assert body["contact"]["operator"] == {"id": awake.id, "name": "Awake"}
    assert active_contacts_by_operator(app) == {awake.id: 15}
    assert operator_load(app, sleeping.id) == 0


def test_only_inactive_operators_gives_unassigned(app, client, factory):
    sleeping = factory.operator("Sleeping", max_load=100, is_active=False)
    source = factory.source(key="site", weights={sleeping: 1})
    body = assert_created(post_json(client, source, {"phone": PHONE}))
    assert (body["contact"]["status"], body["contact"]["operator"], body["operator_available"]) == (
        "unassigned", None, False,
    )


def test_operator_deactivated_later_is_no_longer_chosen(app, client, factory):
    first = factory.operator("First", max_load=100)
    second = factory.operator("Second", max_load=100)
    source = factory.source(key="site", weights={first: "999.99", second: "0.01"})
    factory._call(update_operator, first.id, {"is_active": False})
    for i in range(10):
        body = assert_created(post_json(client, source, {"phone": f"+7999123450{i}"}))
        assert body["contact"]["operator"]["id"] == second.id
    assert active_contacts_by_operator(app) == {second.id: 10}


def test_operator_without_a_rule_for_the_source_is_never_chosen(app, client, factory):
    mine = factory.operator("Mine", max_load=100)
    theirs = factory.operator("Theirs", max_load=100)
    site = factory.source(key="site", weights={mine: "0.01"})
    factory.source(key="calls", weights={theirs: "999.99"})
    empty = factory.source(key="empty")
    for i in range(15):
        body = assert_created(post_json(client, site, {"phone": f"+799912345{i:02d}"}))
        assert body["contact"]["operator"] == {"id": mine.id, "name": "Mine"}
    # A source without rules hands out nobody, although both operators are free.
    for i in range(3):
        body = assert_created(post_json(client, empty, {"email": f"e{i}@example.com"}))
        assert body["operator_available"] is False
    assert active_contacts_by_operator(app) == {mine.id: 15, None: 3}
    assert operator_load(app, theirs.id) == 0
