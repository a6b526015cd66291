"""Settings are validated at start with per-variable messages; credentials are encrypted
with rotatable keys."""

from __future__ import annotations

import dataclasses
import typing

import pytest

from slotgraph.limits.policy import LimitPolicy
from slotgraph.models.crypto import CredentialCipher
from slotgraph.models.crypto import CredentialError
from slotgraph.models.crypto import generate_key
from slotgraph.server.limits import limit_policy
from slotgraph.server.settings import Mode
from slotgraph.server.settings import Settings
from slotgraph.server.settings import SettingsError
from slotgraph.server.settings import load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "SLOTGRAPH_SECRET_KEYS", "SLOTGRAPH_MODE"):
        monkeypatch.delenv(name, raising=False)


def test_production_needs_a_secret_key() -> None:
    with pytest.raises(SettingsError, match="SLOTGRAPH_SECRET_KEYS is required in production"):
        load_settings()


def test_demo_mode_needs_no_key() -> None:
    assert load_settings(mode=Mode.DEMO).is_demo


def test_bad_values_name_their_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLOTGRAPH_MODE", "demo")
    monkeypatch.setenv("SLOTGRAPH_MAX_QUERY_DEPTH", "abc")
    monkeypatch.setenv("DATABASE_URL", "mysql://x/y")
    with pytest.raises(SettingsError) as error:
        load_settings()
    message = str(error.value)
    assert "SLOTGRAPH_MAX_QUERY_DEPTH:" in message
    assert "DATABASE_URL: Value error, must be a PostgreSQL URL" in message


def test_keys_and_origins_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = generate_key(), generate_key()
    monkeypatch.setenv("SLOTGRAPH_SECRET_KEYS", f"{first}, {second}")
    monkeypatch.setenv("SLOTGRAPH_ALLOWED_ORIGINS", "https://a.test,https://b.test")
    settings = load_settings()
    assert settings.secret_keys == (first, second)
    assert settings.allowed_origins == ("https://a.test", "https://b.test")


def test_rotation_keeps_old_credentials_readable_and_reencrypts_them() -> None:
    old_key, new_key = generate_key(), generate_key()
    old = CredentialCipher((old_key,))
    ciphertext = old.encrypt({"refresh_token": "r-123"})
    assert b"r-123" not in ciphertext
    rotated_cipher = CredentialCipher((new_key, old_key))
    assert rotated_cipher.decrypt(ciphertext) == {"refresh_token": "r-123"}
    rotated = rotated_cipher.rotate(ciphertext)
    assert CredentialCipher((new_key,)).decrypt(rotated) == {"refresh_token": "r-123"}
    with pytest.raises(CredentialError):
        CredentialCipher((new_key,)).decrypt(ciphertext)


def test_a_malformed_key_is_explained() -> None:
    with pytest.raises(ValueError, match="slotgraph generate-key"):
        CredentialCipher(("not-a-key",))
    assert "keys hidden" in repr(CredentialCipher((generate_key(),)))


def test_a_watch_renewal_margin_as_long_as_the_lifetime_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SLOTGRAPH_WATCH_TTL_HOURS", "24")
    monkeypatch.setenv("SLOTGRAPH_WATCH_RENEW_MARGIN_HOURS", "24")
    with pytest.raises(SettingsError, match="SLOTGRAPH_WATCH_RENEW_MARGIN_HOURS must be shorter"):
        load_settings(mode=Mode.DEMO)


def test_the_demo_calendar_allowance_is_for_the_demo_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLOTGRAPH_DEMO_CALDAV_URL", "http://127.0.0.1:5232")
    monkeypatch.setenv("SLOTGRAPH_SECRET_KEYS", generate_key())
    with pytest.raises(SettingsError, match="allowed only with --demo"):
        load_settings()
    assert load_settings(mode=Mode.DEMO).demo_caldav_endpoint == ("127.0.0.1", 5232)


def test_each_limit_policy_field_is_the_public_setting_of_its_name_and_type() -> None:
    """`limit_policy` reads the field `x` from the setting `public_x`: every field has its
    setting, of the same type, and every limit setting (`public_*` but the base URL) a field."""
    fields = typing.get_type_hints(LimitPolicy)
    settings = {
        name: info.annotation
        for name, info in Settings.model_fields.items()
        if name.startswith("public_") and name != "public_base_url"
    }
    assert {f"public_{name}": kind for name, kind in fields.items()} == settings
    numbers = {name: index + 1 for index, name in enumerate(fields)}
    configured = load_settings(mode=Mode.DEMO, **{f"public_{k}": v for k, v in numbers.items()})
    assert dataclasses.asdict(limit_policy(configured)) == numbers
