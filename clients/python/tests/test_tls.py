"""TLS and token settings of the clients (no broker needed); the conformance
auth scenarios use them against a broker with mTLS and tokens."""

from __future__ import annotations

import pytest

import taskwire
from taskwire import _common


def test_tls_is_off_without_settings() -> None:
    assert _common.tls_from_env(None, {}) is None
    assert _common.channel_credentials(None, False) is None


def test_tls_from_the_environment() -> None:
    env = {"TASKWIRE_TLS_CA": "/ca.pem", "TASKWIRE_TLS_CERT": "/c.pem", "TASKWIRE_TLS_KEY": "/k.pem"}
    assert _common.tls_from_env(None, env) == taskwire.TLSConfig(ca="/ca.pem", cert="/c.pem", key="/k.pem")
    assert _common.tls_from_env(None, {"TASKWIRE_TLS": "true"}) == taskwire.TLSConfig()
    # The broker's own TASKWIRE_TLS_CERT alone does not turn client TLS on.
    assert _common.tls_from_env(None, {"TASKWIRE_TLS_CERT": "/server.pem"}) is None
    # An explicit setting wins over the environment.
    assert _common.tls_from_env(False, env) is None


def test_tls_credentials_from_pem_and_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    assert _common.channel_credentials(None, taskwire.TLSConfig(ca=pem)) is not None
    assert _common.channel_credentials(None, True) is not None
    with pytest.raises(ValueError, match="needs its key"):
        _common.channel_credentials(None, taskwire.TLSConfig(cert=pem))
    with pytest.raises(ValueError, match="cannot read"):
        _common.channel_credentials(None, taskwire.TLSConfig(ca=str(tmp_path / "missing.pem")))


def test_token_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKWIRE_TOKEN", "t0k")
    with taskwire.Client("127.0.0.1:1") as c:
        assert ("authorization", "Bearer t0k") in c.metadata
    with taskwire.Client("127.0.0.1:1", token="") as c:
        assert all(k != "authorization" for k, _ in c.metadata)
