"""Log scrubbing: credentials that slip into a message are masked before anything is written."""

from __future__ import annotations

import logging

import orjson
import pytest

from meshclaw.logs import configure_logging, scrub


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("calling with mc_ab12cd_0123456789abcdefXYZ", "mc_ab12cd_0123456789abcdefXYZ"),
        ("Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.payload.sig", "eyJhbGciOiJSUzI1NiJ9.payload.sig"),
        ('{"password": "hunter2-is-long"}', "hunter2-is-long"),
        ("upstream key sk-proj-abcdefghijklmnop", "sk-proj-abcdefghijklmnop"),
        ("open http://host/setup/AbCdEfGhIjKlMnOpQrSt to begin", "AbCdEfGhIjKlMnOpQrSt"),
        (
            '"GET /auth/oidc/callback?code=SplxlOBeZQQYbYS6WxSbIA&state=af0ifjsldkj HTTP/1.1" 302',
            "SplxlOBeZQQYbYS6WxSbIA",
        ),
        (
            '"GET /auth/oidc/callback?code=SplxlOBeZQQYbYS6WxSbIA&state=af0ifjsldkj HTTP/1.1" 302',
            "af0ifjsldkj",
        ),
    ],
)
def test_secrets_are_masked(line: str, secret: str) -> None:
    masked = scrub(line)
    assert secret not in masked
    assert "[redacted]" in masked


def test_ordinary_text_is_left_alone() -> None:
    line = "created team Platform (id 4) for ada@example.org; 12 tokens used"
    assert scrub(line) == line


def test_json_log_lines_are_scrubbed(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(level="info", json_lines=True)
    logging.getLogger("meshclaw.test").info(
        "retrying with Bearer abcdefghijklmnop", extra={"key": "sk-abcdefghijklmnopq"}
    )
    record = orjson.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert "abcdefghijklmnop" not in record["message"]
    assert record["key"] == "[redacted]"
    configure_logging(level="info", json_lines=False)
