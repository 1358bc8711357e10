"""Flask-WTF forms of the staff pages. Rules live in the services; forms only shape input."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, Optional

from .validators import IntRange


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=320)],
                       render_kw={"autocomplete": "username"})
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)],
                             render_kw={"autocomplete": "current-password"})


class OperatorForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    max_load = IntegerField(
        _l("Maximum load"),
        validators=[InputRequired(), IntRange(min=0, max=10_000)],
        description=_l("How many active contacts this operator may hold at once (0–10000)."),
    )
    is_active = BooleanField(_l("Active (receives new contacts)"), default=True)


class SourceForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    key = StringField(
        _l("Key"),
        validators=[Optional(), Length(max=64)],
        description=_l("Used in the webhook URL; lower-case letters, digits, '-' and '_'. "
                       "Leave empty to derive it from the name."),
    )
    is_active = BooleanField(_l("Enabled (accepts webhooks)"), default=True)
    # Checked by the service (crm_web/domain/site_forms.py); the form only carries the text.
    allowed_origins = TextAreaField(
        _l("Sites allowed to send from the browser (CORS)"),
        validators=[Optional(), Length(max=5000)],
        description=_l("One origin per line, e.g. https://www.example.com. Only needed for scripts "
                       "(fetch) on those sites; a plain HTML form works from any site. Empty: none."),
        render_kw={"rows": 3, "spellcheck": "false"},
    )
    thank_you_url = StringField(
        _l("Thank-you page"),
        validators=[Optional(), Length(max=2048)],
        description=_l("Where a visitor's browser goes after sending a plain HTML form, e.g. "
                       "https://www.example.com/thanks. Empty: the form gets the JSON answer."),
    )


class IntakeForm(FlaskForm):
    source_id = SelectField(_l("Source"), coerce=int, validators=[InputRequired()])
    external_id = StringField(_l("External id"), validators=[Optional(), Length(max=255)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=64)])
    email = StringField(_l("Email"), validators=[Optional(), Length(max=320)])
    name = StringField(_l("Name"), validators=[Optional(), Length(max=255)])
    message = TextAreaField(_l("Message"), validators=[Optional(), Length(max=10_000)])


class UserForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=320)])
    role = SelectField(
        _l("Role"),
        choices=[SelectChoice("operator", _l("Operator")), SelectChoice("supervisor", _l("Supervisor"))],
    )
    operator_id = SelectField(_l("Works as operator"), coerce=int, validate_choice=False)
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(min=8, max=1024)])


class EmptyForm(FlaskForm):
    """Only the CSRF token: for buttons that post (close, take, delete...)."""


class AssignForm(FlaskForm):
    """Queue and contact page: give an unassigned contact to an operator (or take it)."""

    operator_id = IntegerField(
        _l("Operator"), validators=[InputRequired(message=_l("Choose an operator."))]
    )
    page = IntegerField(validators=[Optional()])
    next = HiddenField()


class AvailabilityForm(FlaskForm):
    """My contacts: pause (0) or resume (1) taking new contacts."""

    active = HiddenField(validators=[AnyOf(("0", "1"))])


class CloseForm(FlaskForm):
    next = HiddenField()


class ContactFilterForm(FlaskForm):
    """The GET filters of /contacts (no CSRF: it changes nothing)."""

    class Meta:
        csrf = False

    status = SelectField(
        _l("Status"),
        choices=[
            SelectChoice("", _l("Any status")),
            SelectChoice("unassigned", _l("unassigned")),
            SelectChoice("assigned", _l("assigned")),
            SelectChoice("closed", _l("closed")),
        ],
        default="",
    )
    source_id = SelectField(_l("Source"), default="")
    operator_id = SelectField(_l("Operator"), default="")
