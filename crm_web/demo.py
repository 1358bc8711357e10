"""A small demo data set, loaded through the same services as real traffic."""

from __future__ import annotations

import random
import secrets
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from .domain.identifiers import parse_contact_input
from .models import Contact, Source, User
from .services import operators, sources
from .services.contacts import close_contact
from .services.intake import register_contact
from .services.users import create_user

OPERATORS = [("Anna Petrova", 8), ("Boris Ivanov", 4), ("Clara Smirnova", 10), ("Dmitry Orlov", 2)]
SOURCES = {
    "Website form": {"Anna Petrova": "10", "Boris Ivanov": "5", "Clara Smirnova": "20"},
    "Call centre": {"Boris Ivanov": "1", "Dmitry Orlov": "3"},
    "Instagram": {"Clara Smirnova": "2.5", "Anna Petrova": "7.5"},
}
NAMES = ["Ivan", "Olga", "Pavel", "Maria", "Sergey", "Elena", "Nikolai", "Tatiana", "Alexei", "Irina"]


class DemoNotEmpty(RuntimeError):
    pass


def load_demo(session: Session, seed: int = 7, password: str | None = None) -> str:
    """Create demo operators, sources, weights, leads and contacts; return admin's password."""
    if session.scalar(select(func.count(Source.id))) or session.scalar(select(func.count(User.id))):
        raise DemoNotEmpty("The database already has data; demo data goes only into an empty one.")
    rng = random.Random(seed)
    by_name = {
        name: operators.create_operator(session, {"name": name, "max_load": load})
        for name, load in OPERATORS
    }
    made = []
    for source_name, weights in SOURCES.items():
        source = sources.create_source(session, {"name": source_name})
        sources.replace_distribution(
            session, source.id, {by_name[op].id: w for op, w in weights.items()}
        )
        made.append(source)
    password = password or secrets.token_urlsafe(12)
    admin = create_user(session, "admin@example.com", "supervisor", password)
    create_user(session, "anna@example.com", "operator", password, by_name["Anna Petrova"].id)
    for i in range(24):
        source = made[i % len(made)]
        fields = {"name": NAMES[i % len(NAMES)], "message": f"Demo request #{i + 1}"}
        # Every fourth request comes back from an earlier client.
        client = i - 3 if i % 4 == 3 else i
        fields["phone"] = f"+7 999 {100 + client:03d}-{(client * 37) % 100:02d}-{(client * 53) % 100:02d}"
        if i % 3 == 0:
            fields["email"] = f"client{client}@example.org"
        result = register_contact(session, source, parse_contact_input(fields, "RU"), rng)
        # Spread over the last six days, so that the fairness report has a history.
        _backdate(session, result.contact, timedelta(days=(23 - i) // 4, hours=2 * (i % 4)))
        if i % 5 == 4 and result.contact is not None and result.contact.operator_id:
            close_contact(session, result.contact.id, admin, ("done", "no_answer")[i // 5 % 2])
    # Olga (client 1, by phone) writes once by email only, then names both: a possible duplicate pair.
    for fields in (
        {"name": "Olga S.", "email": "olga.s@example.org", "message": "Please email me the price list."},
        {"name": "Olga", "phone": "+7 999 101-37-53", "email": "olga.s@example.org", "message": "Any news?"},
    ):
        register_contact(session, made[0], parse_contact_input(fields, "RU"), rng)
    return password


def _backdate(session: Session, contact, by: timedelta) -> None:
    """Move an intake back in time; an automatic assignment keeps assigned_at == created_at."""
    created_at = contact.created_at - by
    session.execute(
        update(Contact)
        .where(Contact.id == contact.id)
        .values(created_at=created_at, assigned_at=created_at if contact.assigned_at else None)
    )
    session.commit()
