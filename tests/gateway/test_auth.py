"""Logging in: hashed tokens, tokens signed with a secret from the environment, and wss with a certificate."""

from __future__ import annotations

import dataclasses
import ssl
from pathlib import Path

import pytest
import trustme
import websockets

from router.gateway.auth import sign
from router.gateway.config import GatewayConfig
from tests.gateway.stack import Peer, Stack, gateway_config


async def test_signed_tokens(redis_url: str, tenant: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNIROUTE_TOKEN_SECRET", "s3cret-for-the-test")
    async with Stack(gateway_config(tenant), redis_url) as s:
        p = await Peer.open(s.url, "/v1/agent")
        expired = sign("a2", "s3cret-for-the-test", ttl=-10)
        assert (await p.call("login", agent="a2", token=expired))["code"] == "unauthorized"
        forged = sign("a2", "another-secret", ttl=600)
        assert (await p.call("login", agent="a2", token=forged))["code"] == "unauthorized"
        for_a3 = sign("a3", "s3cret-for-the-test", ttl=600)
        assert (await p.call("login", agent="a2", token=for_a3))["code"] == "unauthorized"
        good = sign("a2", "s3cret-for-the-test", ttl=600)
        reply = await p.call("login", agent="a2", token=good)
        assert reply["type"] == "ack" and reply["agent"] == "a2"


async def test_wss_with_a_certificate(redis_url: str, tenant: str, tmp_path: Path) -> None:
    authority = trustme.CA()
    server_cert = authority.issue_cert("127.0.0.1")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    server_cert.private_key_pem.write_to_path(str(key))
    server_cert.cert_chain_pems[0].write_to_path(str(cert))
    config = gateway_config(tenant)
    gateway = dataclasses.replace(config.gateway, tls_cert=str(cert), tls_key=str(key))
    assert isinstance(gateway, GatewayConfig)
    async with Stack(dataclasses.replace(config, gateway=gateway), redis_url) as s:
        trust = ssl.create_default_context()
        authority.configure_trust(trust)
        wss = s.url.replace("ws://", "wss://")
        async with websockets.connect(wss + "/v1/agent", ssl=trust) as ws:
            p = Peer(ws)
            assert (await p.call("login", agent="a1", token="tok-a1"))["type"] == "ack"
        with pytest.raises((OSError, websockets.exceptions.InvalidMessage, websockets.exceptions.InvalidHandshake)):
            async with websockets.connect(s.url + "/v1/agent", open_timeout=3):
                pass  # plain ws:// to a TLS port fails
