"""Settings: the Redis credentials and CA kept beside the URL, and errors that show no value."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from gateway.config import Settings, settings_errors

SECRET = "s3cret-value-0123456789"


@pytest.mark.parametrize(
    "values",
    [
        {"redis_url": "rediss+cluster://cfg.example:6379", "redis_password": SECRET},
        {"redis_url": "rediss://h:6379/0", "redis_username": "app", "redis_password": SECRET},
        {"redis_url": "rediss://h:6379/0", "redis_ca_file": "/etc/ca.pem"},
        {"redis_url": "redis://:tok@h:6379/0"},
    ],
)
def test_redis_parts_that_fit(values: dict[str, Any]) -> None:
    Settings(**values)


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"redis_password": SECRET}, "GATEWAY_REDIS_PASSWORD set without GATEWAY_REDIS_URL"),
        ({"redis_ca_file": "/ca"}, "GATEWAY_REDIS_CA_FILE set without GATEWAY_REDIS_URL"),
        (
            {"redis_url": f"rediss://:{SECRET}@h:6379", "redis_password": SECRET},
            "carries credentials too",
        ),
        (
            {"redis_url": "rediss://user@h:6379", "redis_password": SECRET},
            "carries credentials too",
        ),
        (
            {"redis_url": "rediss://h:6379", "redis_username": "app"},
            "GATEWAY_REDIS_USERNAME needs GATEWAY_REDIS_PASSWORD",
        ),
        (
            {"redis_url": "redis+cluster://h:6379", "redis_ca_file": "/ca"},
            "GATEWAY_REDIS_CA_FILE needs a TLS URL",
        ),
    ],
)
def test_redis_parts_that_do_not_fit_are_refused(values: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(**values)
    text = settings_errors(caught.value)
    assert reason in text
    assert SECRET not in text  # pydantic's own text would show every input


def test_errors_name_the_variable() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(max_body_bytes="lots", log_format="xml")  # type: ignore[arg-type]
    text = settings_errors(caught.value)
    assert "GATEWAY_MAX_BODY_BYTES: " in text and "GATEWAY_LOG_FORMAT: " in text
    assert "lots" not in text
