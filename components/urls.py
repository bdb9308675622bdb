"""URLs in settings: well-formed, and never a credential in disguise.

Many services hand out a URL that is itself the credential: whoever has a Slack or Discord
incoming-webhook URL can post to the channel, and a token in a query string (`?token=`) or a
user and password in the authority travel with the URL into every file that names it. A plain
setting lands in plaintext in a ConfigMap or a rendered file, so such a URL must come as a
secret instead.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from components.config_values import shown

# Hosts whose webhook URLs carry their credential in the path.
CREDENTIAL_HOSTS = {
    "hooks.slack.com": "a Slack incoming-webhook URL",
    "hooks.slack-gov.com": "a Slack incoming-webhook URL",
    "discord.com": "a Discord webhook URL",
    "discordapp.com": "a Discord webhook URL",
    "ptb.discord.com": "a Discord webhook URL",
    "canary.discord.com": "a Discord webhook URL",
    "events.pagerduty.com": "a PagerDuty events URL (the routing key is the credential)",
    "events.eu.pagerduty.com": "a PagerDuty events URL (the routing key is the credential)",
    "outlook.office.com": "a Microsoft Teams webhook URL",
    "chat.googleapis.com": "a Google Chat webhook URL",
    "api.telegram.org": "a Telegram bot URL (the bot token is in the path)",
}
CREDENTIAL_HOST_SUFFIXES = {".webhook.office.com": "a Microsoft Teams webhook URL"}
# Query parameters that carry a credential (compared in lowercase, - and _ ignored).
CREDENTIAL_PARAMETERS = {
    "token",
    "accesstoken",
    "apitoken",
    "authtoken",
    "key",
    "apikey",
    "secret",
    "clientsecret",
    "password",
    "pass",
    "pwd",
    "auth",
    "sig",
    "signature",
    "code",
    "routingkey",
    "integrationkey",
    "xamzsignature",
    "xamzcredential",
    "xgoogsignature",
}


def http_url(value: str) -> str:
    """`value` if it is an http(s) URL with a host; ValueError otherwise."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise ValueError(f"must be an http(s) URL, got {shown(value)}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or " " in value:
        raise ValueError(
            f"must be an http(s) URL like https://hooks.example.com/alerts, got {shown(value)}"
        )
    return value


def credential_in_url(value: str) -> str | None:
    """What makes the URL a credential (said without the credential), or None."""
    parts = urlsplit(value)
    if parts.username is not None or parts.password is not None:
        return "holds a user or password before its host"
    host = (parts.hostname or "").rstrip(".")
    kind = CREDENTIAL_HOSTS.get(host) or next(
        (k for suffix, k in CREDENTIAL_HOST_SUFFIXES.items() if host.endswith(suffix)), None
    )
    if kind:
        return f"is {kind}"
    for name, _ in parse_qsl(parts.query, keep_blank_values=True):
        if name.lower().replace("-", "").replace("_", "") in CREDENTIAL_PARAMETERS:
            return f"has a credential in its query ({name}=...)"
    return None
