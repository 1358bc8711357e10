"""The server's input rules, for pages to render (an input's `pattern`, its bounds) instead of copying them.

Registered as template globals by the API blueprint (crm_web/api/__init__.py);
configure_web (crm_web/web/setup.py) is their natural home once the pages
take them over.
"""

from __future__ import annotations

from ..domain.weights import CENT, MAX_WEIGHT, MIN_WEIGHT, WEIGHT_PATTERN

# A weight as the weights page takes it: the domain's text, where a decimal
# comma may stand for the point (crm_web/web/sources.py reads it so).
WEIGHT_INPUT = {
    "pattern": WEIGHT_PATTERN.replace(r"\.", "[.,]"),
    "min": str(MIN_WEIGHT),
    "max": str(MAX_WEIGHT),
    "step": str(CENT),
}


def register(app) -> None:
    app.jinja_env.globals["weight_input"] = WEIGHT_INPUT
