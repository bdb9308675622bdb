"""Typed stack settings: the model, the defaults per environment, loading and error messages."""

from infra.settings.errors import SettingsError
from infra.settings.loader import declared_secret_keys, load_settings, parse_settings
from infra.settings.model import REFERENCE_IMAGE, StackSettings

__all__ = [
    "REFERENCE_IMAGE",
    "SettingsError",
    "StackSettings",
    "declared_secret_keys",
    "load_settings",
    "parse_settings",
]
