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
from wtforms.validators import AnyOf, DataRequired, EqualTo, InputRequired, Length, Optional

from ..services.users import MIN_PASSWORD
from ..services.validation import MAX_ID
from .validators import MAX_PAGE, NotAnInteger, id_value, int_in, parse_bounded_int, refuse_nul


class CrmForm(FlaskForm):
    """The base of every form of the pages: no field takes a NUL character ("Invalid character.")."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self:
            # First in the chain, and it stops it: no other check sees the NUL.
            field.validators = [refuse_nul, *field.validators]


# WTForms' own messages, translated by its catalog (field.gettext), not ours: kept out of gettext().
NOT_AN_INTEGER = "Not a valid integer value."
OUT_OF_RANGE = "Number must be between %(min)s and %(max)s."


class BoundedIntegerField(IntegerField):
    """An IntegerField that holds only whole numbers in [min, max] (a row id by default).

    Anything else (huge, negative, not a number) is a field error and leaves
    `data` None, so that not even a view that forgets to validate hands the
    database a number its column cannot hold.
    """

    def __init__(self, label=None, validators=None, *, min: int = 1, max: int = MAX_ID, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.min, self.max = min, max
        self.flags.min, self.flags.max = min, max  # rendered as the input's min and max

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        try:
            self.data = parse_bounded_int(valuelist[0], self.min, self.max)
        except NotAnInteger as exc:
            self.data = None
            raise ValueError(self.gettext(NOT_AN_INTEGER)) from exc
        except ValueError as exc:
            self.data = None
            raise ValueError(self.gettext(OUT_OF_RANGE) % {"min": self.min, "max": self.max}) from exc


class LoginForm(CrmForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=320)],
                       render_kw={"autocomplete": "username"})
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)],
                             render_kw={"autocomplete": "current-password"})


class OperatorForm(CrmForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    max_load = BoundedIntegerField(
        _l("Maximum load"),
        validators=[InputRequired()],
        min=0,
        max=10_000,
        description=_l("How many active contacts this operator may hold at once (0–10000)."),
    )
    is_active = BooleanField(_l("Active (receives new contacts)"), default=True)


class SourceForm(CrmForm):
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


class IntakeForm(CrmForm):
    source_id = SelectField(_l("Source"), coerce=id_value, validators=[InputRequired()])
    external_id = StringField(_l("External id"), validators=[Optional(), Length(max=255)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=64)])
    email = StringField(_l("Email"), validators=[Optional(), Length(max=320)])
    name = StringField(_l("Name"), validators=[Optional(), Length(max=255)])
    message = TextAreaField(_l("Message"), validators=[Optional(), Length(max=10_000)])


class UserForm(CrmForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=320)])
    role = SelectField(
        _l("Role"),
        choices=[SelectChoice("operator", _l("Operator")), SelectChoice("supervisor", _l("Supervisor"))],
    )
    # 0 is "none" (users.NO_OPERATOR).
    operator_id = SelectField(_l("Works as operator"), coerce=int_in(0, MAX_ID), validate_choice=False)
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(min=MIN_PASSWORD, max=1024)])


class EmptyForm(CrmForm):
    """Only the CSRF token: for buttons that post (close, take, delete...)."""


class AssignForm(CrmForm):
    """Queue and contact page: give an unassigned contact to an operator (or take it)."""

    operator_id = BoundedIntegerField(
        _l("Operator"), validators=[InputRequired(message=_l("Choose an operator."))]
    )
    page = BoundedIntegerField(validators=[Optional()], max=MAX_PAGE)
    next = HiddenField()


class AvailabilityForm(CrmForm):
    """My contacts: pause (0) or resume (1) taking new contacts."""

    active = HiddenField(validators=[AnyOf(("0", "1"))])


class CloseForm(CrmForm):
    next = HiddenField()


class ContactFilterForm(CrmForm):
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


class PasswordChangeForm(CrmForm):
    """Every user's own change of password."""

    current_password = PasswordField(
        _l("Current password"), validators=[DataRequired(), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )
    new_password = PasswordField(
        _l("New password"), validators=[DataRequired(), Length(max=1024)],
        render_kw={"autocomplete": "new-password", "minlength": MIN_PASSWORD},
    )
    confirm = PasswordField(
        _l("New password again"),
        validators=[DataRequired(), EqualTo("new_password", message=_l("The two passwords differ."))],
        render_kw={"autocomplete": "new-password"},
    )
