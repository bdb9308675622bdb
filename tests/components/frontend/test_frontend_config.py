"""frontend.conf from typed values: which names count as hashed, and what each setting turns
into (the live test runs it with Debian's nginx)."""

from __future__ import annotations

import re

import pytest

from components.frontend.nginx import HASHED_NAME, FrontendConfig, entry_cache_control
from components.frontend.settings import ENTRY_MAX_AGE_LIMIT
from policies import frontend as rule


@pytest.mark.parametrize(
    "path",
    [
        "/assets/index-B7x2k9Qa.js",  # Vite
        "/static/js/main.8f3c2a1b.js",  # create-react-app
        "/main.3a7bd3e2360a3d29.js",  # Angular
        "/assets/app.a58d06268e.css",  # the reference frontend
        "/fonts/inter-4f1a2b3c.woff2",
    ],
)
def test_a_content_hash_in_the_name_is_recognised(path: str) -> None:
    assert re.search(HASHED_NAME, path)


@pytest.mark.parametrize(
    "path",
    [
        "/index.html",
        "/app-application.js",  # a word, not a hash
        "/jquery-3.7.1.min.js",
        "/favicon.ico",
        "/assets/logo.png",
        "/robots.txt",
    ],
)
def test_a_name_without_a_hash_is_not_cached_for_good(path: str) -> None:
    assert not re.search(HASHED_NAME, path)


def test_entry_points_revalidate_unless_a_max_age_is_set() -> None:
    assert entry_cache_control(0) == "no-cache"
    assert entry_cache_control(60) == "public, max-age=60, must-revalidate"


def test_immutable_prefixes_come_before_the_regex_locations() -> None:
    conf = FrontendConfig(1, root="/srv/app", immutable_paths=("/assets/",)).render()
    assert "root /srv/app;" in conf
    # A prefix match with ^~ stops nginx from trying the regular expressions after it.
    assert "location ^~ /assets/ {" in conf
    assert conf.index("location ^~ /assets/") < conf.index("location ~* ")


def test_the_settings_bound_is_the_policy_packs() -> None:
    assert ENTRY_MAX_AGE_LIMIT == rule.ENTRY_MAX_AGE_LIMIT
    assert rule.entry_problem([entry_cache_control(ENTRY_MAX_AGE_LIMIT)]) is None
    assert rule.entry_problem([entry_cache_control(ENTRY_MAX_AGE_LIMIT + 1)]) is not None
