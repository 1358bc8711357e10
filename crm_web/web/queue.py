"""Stub: filled in by the pages work."""

from flask import render_template_string

from . import bp
from .access import staff_required


@bp.get("/queue")
@staff_required
def queue():
    return render_template_string("{% extends 'base.html' %}")


@bp.get("/my")
@staff_required
def my_contacts():
    return render_template_string("{% extends 'base.html' %}")


@bp.get("/contacts/new")
@staff_required
def new_contact():
    return render_template_string("{% extends 'base.html' %}")


@bp.get("/contacts")
@staff_required
def contacts():
    return render_template_string("{% extends 'base.html' %}")


@bp.get("/contacts/<int:contact_id>")
@staff_required
def contact(contact_id):
    return render_template_string("{% extends 'base.html' %}")


@bp.get("/leads")
@staff_required
def leads():
    return render_template_string("{% extends 'base.html' %}")


@bp.get("/sources")
@staff_required
def sources():
    return render_template_string("{% extends 'base.html' %}")


@bp.get("/users")
@staff_required
def users():
    return render_template_string("{% extends 'base.html' %}")
