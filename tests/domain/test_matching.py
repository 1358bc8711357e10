"""Lead matching (contract section 1): which lead a new contact belongs to."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from crm_web.domain.identifiers import Identifiers
from crm_web.domain.matching import PRIORITY, LeadKeys, MatchPlan, plan_match

EXT = "ext-1"
PHONE = "+79991234567"
EMAIL = "anna@example.com"
FULL = Identifiers(external_id=EXT, phone=PHONE, email=EMAIL)


def test_priority_is_external_id_then_phone_then_email():
    assert PRIORITY == ("external_id", "phone", "email")


# --- no match ----------------------------------------------------------------


def test_no_candidates_creates_a_lead_with_all_given_identifiers():
    plan = plan_match(FULL, [])
    assert plan == MatchPlan(
        lead_id=None, fill={"external_id": EXT, "phone": PHONE, "email": EMAIL}, duplicates=()
    )
    assert plan.creates_lead


def test_new_lead_gets_only_the_identifiers_given():
    plan = plan_match(Identifiers(phone=PHONE), [])
    assert plan.creates_lead
    assert plan.fill == {"phone": PHONE}
    assert plan.duplicates == ()


def test_candidates_sharing_nothing_do_not_match():
    unrelated = [
        LeadKeys(1, external_id="other", phone="+79990000000", email="other@example.com"),
        LeadKeys(2),
    ]
    plan = plan_match(FULL, unrelated)
    assert plan.creates_lead
    assert plan.fill == {"external_id": EXT, "phone": PHONE, "email": EMAIL}
    assert plan.duplicates == ()


def test_a_lead_with_different_values_everywhere_is_not_a_match():
    # Having a phone that differs is not "matching": only equal identifiers count.
    lead = LeadKeys(7, external_id="ext-2", phone="+79990000000", email="b@example.com")
    assert plan_match(FULL, [lead]).creates_lead


def test_lead_with_no_identifiers_never_matches_a_missing_one():
    # None on both sides is not equality of identifiers
    lead = LeadKeys(3)
    plan = plan_match(Identifiers(phone=PHONE), [lead])
    assert plan.creates_lead


# --- one match ---------------------------------------------------------------


def test_one_match_by_phone_returns_that_lead():
    lead = LeadKeys(5, phone=PHONE)
    plan = plan_match(Identifiers(phone=PHONE), [lead])
    assert plan == MatchPlan(lead_id=5, fill={}, duplicates=())
    assert not plan.creates_lead


def test_one_match_by_external_id():
    lead = LeadKeys(5, external_id=EXT)
    plan = plan_match(Identifiers(external_id=EXT), [lead])
    assert plan == MatchPlan(lead_id=5)


def test_one_match_by_email():
    lead = LeadKeys(5, email=EMAIL)
    plan = plan_match(Identifiers(email=EMAIL), [lead])
    assert plan == MatchPlan(lead_id=5)


def test_one_match_fills_the_identifiers_the_lead_lacks():
    lead = LeadKeys(5, phone=PHONE)
    plan = plan_match(FULL, [lead])
    assert plan.lead_id == 5
    assert plan.fill == {"external_id": EXT, "email": EMAIL}
    assert plan.duplicates == ()


def test_one_match_never_overwrites_existing_values():
    # The lead matches by email; its phone and external id differ from the request's.
    lead = LeadKeys(5, external_id="old-ext", phone="+79990000000", email=EMAIL)
    plan = plan_match(FULL, [lead])
    assert plan.lead_id == 5
    assert plan.fill == {}
    assert plan.duplicates == ()


def test_lead_whose_phone_differs_keeps_its_phone_and_gains_what_it_lacks():
    lead = LeadKeys(5, phone="+79990000000", email=EMAIL)
    plan = plan_match(FULL, [lead])
    assert plan.lead_id == 5
    assert plan.fill == {"external_id": EXT}
    assert "phone" not in plan.fill


def test_same_lead_matched_by_several_identifiers_is_not_its_own_duplicate():
    lead = LeadKeys(5, external_id=EXT, phone=PHONE, email=EMAIL)
    plan = plan_match(FULL, [lead])
    assert plan == MatchPlan(lead_id=5, fill={}, duplicates=())


def test_same_lead_matched_by_two_identifiers_fills_the_third():
    lead = LeadKeys(5, phone=PHONE, email=EMAIL)
    plan = plan_match(FULL, [lead])
    assert plan == MatchPlan(lead_id=5, fill={"external_id": EXT}, duplicates=())


def test_same_lead_listed_twice_is_still_one_match():
    lead = LeadKeys(5, phone=PHONE, email=EMAIL)
    plan = plan_match(FULL, [lead, lead])
    assert plan == MatchPlan(lead_id=5, fill={"external_id": EXT}, duplicates=())


def test_only_given_identifiers_are_filled():
    lead = LeadKeys(5, phone=PHONE)
    plan = plan_match(Identifiers(phone=PHONE, email=EMAIL), [lead])
    assert plan.fill == {"email": EMAIL}


# --- several different leads -------------------------------------------------


def test_external_id_wins_over_phone_and_email():
    by_ext = LeadKeys(1, external_id=EXT)
    by_phone = LeadKeys(2, phone=PHONE)
    by_email = LeadKeys(3, email=EMAIL)
    for order in ([by_ext, by_phone, by_email], [by_email, by_phone, by_ext], [by_phone, by_email, by_ext]):
        plan = plan_match(FULL, order)
        assert plan.lead_id == 1
        assert plan.duplicates == (2, 3)
        # phone and email belong to the other leads: not copied onto lead 1
        assert plan.fill == {}


def test_phone_wins_over_email_without_external_id_match():
    by_phone = LeadKeys(2, phone=PHONE)
    by_email = LeadKeys(3, email=EMAIL)
    plan = plan_match(FULL, [by_email, by_phone])
    assert plan.lead_id == 2
    assert plan.duplicates == (3,)
    # external_id is held by nobody: filled in; email is lead 3's: not filled
    assert plan.fill == {"external_id": EXT}


def test_phone_wins_over_email_when_request_has_no_external_id():
    by_phone = LeadKeys(2, phone=PHONE)
    by_email = LeadKeys(3, email=EMAIL)
    plan = plan_match(Identifiers(phone=PHONE, email=EMAIL), [by_email, by_phone])
    assert plan == MatchPlan(lead_id=2, fill={}, duplicates=(3,))


def test_external_id_wins_over_email():
    by_ext = LeadKeys(1, external_id=EXT)
    by_email = LeadKeys(3, email=EMAIL)
    plan = plan_match(Identifiers(external_id=EXT, email=EMAIL), [by_email, by_ext])
    assert plan == MatchPlan(lead_id=1, fill={}, duplicates=(3,))


def test_external_id_wins_over_phone_and_missing_email_is_filled():
    by_ext = LeadKeys(1, external_id=EXT)
    by_phone = LeadKeys(2, phone=PHONE)
    plan = plan_match(FULL, [by_phone, by_ext])
    assert plan == MatchPlan(lead_id=1, fill={"email": EMAIL}, duplicates=(2,))


def test_target_matched_twice_and_another_lead_once():
    # lead 1 holds external_id and email, lead 2 holds the phone
    lead1 = LeadKeys(1, external_id=EXT, email=EMAIL)
    lead2 = LeadKeys(2, phone=PHONE)
    plan = plan_match(FULL, [lead2, lead1])
    assert plan == MatchPlan(lead_id=1, fill={}, duplicates=(2,))


def test_another_lead_matched_twice_is_one_duplicate():
    lead1 = LeadKeys(1, external_id=EXT)
    lead2 = LeadKeys(2, phone=PHONE, email=EMAIL)
    plan = plan_match(FULL, [lead2, lead1])
    assert plan == MatchPlan(lead_id=1, fill={}, duplicates=(2,))


def test_target_keeps_its_own_values_when_others_match():
    # lead 1 matches by external id and has its own, different phone
    lead1 = LeadKeys(1, external_id=EXT, phone="+79990000000")
    lead2 = LeadKeys(2, phone=PHONE)
    plan = plan_match(FULL, [lead1, lead2])
    assert plan.lead_id == 1
    assert plan.fill == {"email": EMAIL}
    assert plan.duplicates == (2,)


def test_duplicates_are_sorted_and_unique():
    by_ext = LeadKeys(30, external_id=EXT)
    by_phone = LeadKeys(20, phone=PHONE)
    by_email = LeadKeys(10, email=EMAIL)
    plan = plan_match(FULL, [by_phone, by_email, by_ext])
    assert plan.lead_id == 30
    assert plan.duplicates == (10, 20)


def test_comparison_is_exact_on_normalised_values():
    # plan_match compares values as given; normalisation happens before it.
    lead = LeadKeys(1, email="Anna@Example.com")
    assert plan_match(Identifiers(email=EMAIL), [lead]).creates_lead


# --- properties --------------------------------------------------------------

_values = {
    "external_id": st.sampled_from(["e1", "e2", "e3"]),
    "phone": st.sampled_from(["+79990000001", "+79990000002", "+79990000003"]),
    "email": st.sampled_from(["a@example.com", "b@example.com", "c@example.com"]),
}


def _maybe(strategy):
    return st.one_of(st.none(), strategy)


_identifiers = st.builds(
    Identifiers,
    external_id=_maybe(_values["external_id"]),
    phone=_maybe(_values["phone"]),
    email=_maybe(_values["email"]),
)


@st.composite
def _unique_leads(draw):
    """Leads whose identifiers are unique across leads, as the database guarantees."""
    count = draw(st.integers(0, 4))
    pools = {name: ["e1", "e2", "e3", "e4"] for name in PRIORITY}
    pools["phone"] = ["+79990000001", "+79990000002", "+79990000003", "+79990000004"]
    pools["email"] = ["a@example.com", "b@example.com", "c@example.com", "d@example.com"]
    leads = []
    for lead_id in draw(st.lists(st.integers(1, 100), min_size=count, max_size=count, unique=True)):
        values = {}
        for name in PRIORITY:
            if pools[name] and draw(st.booleans()):
                value = draw(st.sampled_from(pools[name]))
                pools[name].remove(value)
                values[name] = value
        leads.append(LeadKeys(lead_id, **values))
    return leads


@settings(max_examples=500, deadline=None)
@given(_identifiers, _unique_leads())
def test_plan_match_follows_the_contract(ids, leads):
    plan = plan_match(ids, leads)
    given_ = ids.present()
    matching = [lead for lead in leads if any(getattr(lead, k) == v for k, v in given_.items())]

    if not matching:
        assert plan.creates_lead
        assert plan.fill == given_
        assert plan.duplicates == ()
        return

    # the target is the lead matched by the highest-priority identifier
    expected_target = next(
        lead
        for name in PRIORITY
        if name in given_
        for lead in matching
        if getattr(lead, name) == given_[name]
    )
    assert plan.lead_id == expected_target.id
    # every other matched lead is a duplicate, the target never is
    assert set(plan.duplicates) == {lead.id for lead in matching} - {expected_target.id}
    assert plan.lead_id not in plan.duplicates
    assert list(plan.duplicates) == sorted(plan.duplicates)
    # fill: only identifiers given, only where the target has none, never another lead's value
    for name, value in plan.fill.items():
        assert given_[name] == value
        assert getattr(expected_target, name) is None
        assert all(getattr(lead, name) != value for lead in leads)
    # and every identifier that can safely be filled is filled
    for name, value in given_.items():
        if getattr(expected_target, name) is None and all(getattr(lead, name) != value for lead in leads):
            assert plan.fill.get(name) == value
