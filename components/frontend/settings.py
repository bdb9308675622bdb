"""Frontend settings: the image with the built single-page app, its routes and cache lifetimes."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from components.images import REFERENCE_IMAGE, ImageReference
from components.settings import (
    CpuAutoscaling,
    HeaderValue,
    ImageDirectory,
    Resources,
    Settings,
    UniqueList,
    UrlPath,
)

# Longer than this and a deploy reaches browsers late: the frontend-entry-cache rule's bound.
ENTRY_MAX_AGE_LIMIT = 300


def _below_the_entry(prefix: str) -> str:
    if prefix == "/" or "/index.html".startswith(prefix):
        raise ValueError(
            f"{prefix} covers index.html, which browsers would then keep a year and never see a "
            "deploy; name the directory of hashed files, like /assets/"
        )
    return prefix


class FrontendCache(Settings):
    entry_max_age_seconds: int = Field(
        ge=0,
        le=86400,
        description=(
            "How long browsers may reuse index.html and every other file without a content "
            "hash in its name before asking again. 0 sends `no-cache`: they revalidate on "
            "every use (ETag, Last-Modified) and see a deploy at once. The policy pack fails "
            f"more than {ENTRY_MAX_AGE_LIMIT}."
        ),
    )
    immutable_paths: UniqueList[Annotated[UrlPath, AfterValidator(_below_the_entry)]] = Field(
        description=(
            "Prefixes under which every file name carries a content hash (Vite's /assets/): "
            "cached a year as immutable. Elsewhere a file is immutable only when its name "
            "carries a hash (app.3f9a1c2b.js, index-B7x2k9Qa.css). Never / nor /index.html: "
            "the page itself would be kept a year."
        )
    )
    previous_assets_hours: int = Field(
        ge=0,
        le=720,
        description=(
            "How long the edge keeps serving a release's hashed files after a newer release "
            "replaced it, from its cache of them: a tab opened before a deploy still loads "
            "the chunks its page names. 0: not kept."
        ),
    )


class FrontendSettings(Settings):
    enabled: bool = Field(
        description=(
            "Serve a single-page app at / through the edge, the API under `apiPaths`. Off: "
            "the edge sends every path to the API."
        )
    )
    image: ImageReference | None = Field(
        default=None,
        description=(
            f"{REFERENCE_IMAGE!r} to build the reference frontend from images/frontend on the "
            "Docker host, or a registry image (by digest in prod) that runs nginx and holds the "
            "built app under `root`: build it FROM the edge's nginx image."
        ),
    )
    build_base: ImageReference | None = Field(
        default=None,
        description=(
            f"With image {REFERENCE_IMAGE!r}: the nginx image images/frontend is built from; "
            "unset, the upstream nginx-unprivileged."
        ),
    )
    root: ImageDirectory = Field(description="Where the built app (index.html) is in the image.")
    api_paths: UniqueList[UrlPath] = Field(
        min_length=1,
        description=(
            "Path prefixes the edge sends to the API (with its health paths); every other path "
            "is the frontend's."
        ),
    )
    content_security_policy: HeaderValue = Field(
        description=(
            "The Content-Security-Policy of the app's pages: scripts, styles and connections "
            "from its own origin only unless you widen it."
        ),
    )
    replicas: int = Field(ge=1, le=100, description="Replicas when autoscaling is off.")
    autoscaling: CpuAutoscaling
    resources: Resources
    cache: FrontendCache
