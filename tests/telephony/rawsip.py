"""Bare SIP over UDP from a chosen source address: single INVITEs for the ACL and flood tests."""

from __future__ import annotations

import socket
import time
import uuid


def invite(target: tuple[str, int], source: tuple[str, int]) -> bytes:
    call_id = uuid.uuid4().hex
    sdp = (
        f"v=0\r\no=x 1 1 IN IP4 {source[0]}\r\ns=-\r\nc=IN IP4 {source[0]}\r\nt=0 0\r\n"
        f"m=audio 9 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n"
    )
    host, port = target
    return (
        f"INVITE sip:ivr@{host}:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {source[0]}:{source[1]};branch=z9hG4bK{uuid.uuid4().hex[:16]}\r\n"
        f"From: <sip:flood@{source[0]}>;tag={uuid.uuid4().hex[:8]}\r\n"
        f"To: <sip:ivr@{host}:{port}>\r\n"
        f"Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\n"
        f"Contact: <sip:flood@{source[0]}:{source[1]}>\r\nMax-Forwards: 70\r\n"
        f"Content-Type: application/sdp\r\nContent-Length: {len(sdp)}\r\n\r\n{sdp}"
    ).encode()


def send_invites(target: tuple[str, int], source_ip: str, count: int, listen: float) -> dict[int, int]:
    """Send ``count`` INVITEs from ``source_ip`` at once; final response codes (per call) seen in ``listen`` s."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((source_ip, 0))
        for _ in range(count):
            s.sendto(invite(target, s.getsockname()), target)
        finals: dict[str, int] = {}
        deadline = time.monotonic() + listen
        s.settimeout(0.1)
        while time.monotonic() < deadline:
            try:
                data, _ = s.recvfrom(65535)
            except TimeoutError:
                continue
            head = data.decode(errors="replace").split("\r\n")
            code = int(head[0].split()[1]) if head[0].startswith("SIP/2.0") else 0
            call_id = next((h.split(":", 1)[1].strip() for h in head if h.lower().startswith("call-id:")), "")
            if code >= 200:
                finals[call_id] = code
    counts: dict[int, int] = {}
    for code in finals.values():
        counts[code] = counts.get(code, 0) + 1
    return counts
