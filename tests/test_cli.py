"""flask users create / users token / crm demo."""

from sqlalchemy import func, select

from crm_web.core.extensions import db
from crm_web.models import Contact, Distribution, Operator, Source, User
from crm_web.services.users import user_for_token


def test_users_create_and_token(app, runner, factory):
    op = factory.operator("Anna")
    result = runner.invoke(args=["users", "create", "Boss@Example.com", "--role", "supervisor",
                                 "--password", "long-password"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["users", "create", "anna@example.com", "--role", "operator",
                                 "--operator-id", str(op.id)])
    assert result.exit_code == 0, result.output
    assert "Password: " in result.output  # generated and shown once
    first = runner.invoke(args=["users", "token", "boss@example.com"])
    second = runner.invoke(args=["users", "token", "boss@example.com"])
    assert first.exit_code == second.exit_code == 0
    tokens = [r.output.strip().splitlines()[-1] for r in (first, second)]
    assert tokens[0] != tokens[1]
    with app.app_context():
        # Earlier tokens stay valid when a new one is issued.
        assert [user_for_token(db.session, t).email for t in tokens] == ["boss@example.com"] * 2
        user = db.session.scalar(select(User).where(User.email == "anna@example.com"))
        assert (user.role, user.operator_id) == ("operator", op.id)


def test_users_create_refuses_bad_input(app, runner, factory):
    for args in (
        ["users", "create", "not-an-email", "--role", "supervisor", "--password", "long-password"],
        ["users", "create", "a@example.com", "--role", "operator", "--password", "long-password"],
        ["users", "create", "a@example.com", "--role", "supervisor", "--password", "short"],
        ["users", "create", "a@example.com", "--role", "admin", "--password", "long-password"],
    ):
        result = runner.invoke(args=args)
        assert result.exit_code != 0, args
    assert factory.count("users") == 0
    assert runner.invoke(args=["users", "token", "nobody@example.com"]).exit_code != 0


def test_demo_fills_an_empty_database_once(app, runner):
    result = runner.invoke(args=["crm", "demo"])
    assert result.exit_code == 0, result.output
    assert "admin@example.com" in result.output
    password = result.output.strip().splitlines()[-1].removeprefix("Password: ")
    with app.app_context():
        from crm_web.services.users import get_user_by_email, verify_password

        admin = get_user_by_email(db.session, "admin@example.com")
        assert admin.is_supervisor and verify_password(admin, password)
        assert db.session.scalar(select(func.count(Source.id))) >= 2
        assert db.session.scalar(select(func.count(Distribution.id))) >= 3
        assert db.session.scalar(select(func.count(Contact.id))) > 0
        for op in db.session.scalars(select(Operator)):
            assert op.active_load <= op.max_load
    again = runner.invoke(args=["crm", "demo"])
    assert again.exit_code != 0
    assert runner.invoke(args=["crm", "demo", "--if-empty"]).exit_code == 0
