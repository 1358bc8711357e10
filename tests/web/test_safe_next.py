"""`next=` redirects stay on this site (no open redirect)."""

import pytest

from crm_web.web.pages import safe_next


@pytest.mark.parametrize("target", ["/queue", "/contacts?page=2&after=5", "/leads/3#history"])
def test_same_site_paths_pass(target):
    assert safe_next(target) == target


@pytest.mark.parametrize(
    "target",
    [
        None, "", "queue", "//evil.example", "/\\evil.example", "/\\/evil.example", "\\\\evil.example",
        "https://evil.example/", "/\tevil", "/\n/evil.example", "javascript:alert(1)",
    ],
)
def test_other_sites_and_odd_paths_are_refused(target):
    assert safe_next(target) is None
