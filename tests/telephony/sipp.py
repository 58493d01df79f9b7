"""sipp scenarios (caller and agent phone) written for a test, and a runner that fails clearly without sipp."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support import UNIT

DTMF_PCAP = "/usr/share/sip-tester/dtmf_2833_{digit}.pcap"
AUDIO_PCAP = "/usr/share/sip-tester/g711a.pcap"

_HEAD = '<?xml version="1.0" encoding="ISO-8859-1" ?>\n<!DOCTYPE scenario SYSTEM "sipp.dtd">\n'

_INVITE = """
  <send retrans="500"><![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "Caller" <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:{caller}@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

v=0
o=caller 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 8 101
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=sendrecv
]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rtd="true" rrs="true"/>
  <send><![CDATA[
ACK [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "Caller" <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
[last_To:]
Call-ID: [call_id]
CSeq: 1 ACK
Contact: <sip:{caller}@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

]]></send>
"""

_BYE = """
  <send retrans="500"><![CDATA[
BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "Caller" <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
[last_To:]
Call-ID: [call_id]
CSeq: 2 BYE
Contact: <sip:{caller}@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="200" crlf="true"/>
"""

_RECV_BYE = """
  <recv request="BYE"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
"""


def caller(
    digits: str = "",
    *,
    hold_ms: int = 0,
    audio: bool = False,
    hangs_up: bool = True,
    caller_id: str = "+15550100",
    later: str = "",
    later_after_ms: int = 0,
) -> str:
    """A caller: INVITE (PCMA + telephone-event), each digit as RFC 2833 (0.8 s apart), then ``later``'s
    digits after a pause of ``later_after_ms``, optionally the g711a sample as its voice, then it hangs up
    after ``hold_ms`` or waits for the far end's BYE."""
    steps = [_INVITE.format(caller=caller_id), '  <pause milliseconds="500"/>\n']
    if later:
        digits += "_" + later
    for i, d in enumerate(digits):
        if d == "_":
            steps.append(f'  <pause milliseconds="{later_after_ms}"/>\n')
            continue
        steps.append(f'  <nop><action><exec play_pcap_audio="{DTMF_PCAP.format(digit=d)}"/></action></nop>\n')
        if later and i == len(digits) - 1 and not hangs_up:
            continue  # the answer to a last question: the far end may hang up at once (a BYE during a pause fails)
        steps.append('  <pause milliseconds="800"/>\n')
    if audio:
        steps.append(f'  <nop><action><exec play_pcap_audio="{AUDIO_PCAP}"/></action></nop>\n')
    if hangs_up:
        steps.append(f'  <pause milliseconds="{hold_ms}"/>\n')
        steps.append(_BYE.format(caller=caller_id))
    else:
        steps.append(_RECV_BYE)
    return _HEAD + '<scenario name="caller">\n' + "".join(steps) + "</scenario>\n"


def agent_phone(*, answer_after_ms: int | None = 300, talk_ms: int | None = 3000) -> str:
    """An agent's phone (UAS): rings, answers after ``answer_after_ms`` (None: never; the call is
    cancelled), echoes RTP (run with -rtp_echo), and hangs up after ``talk_ms`` (None: waits for the BYE)."""
    keep_from = (
        '<action><ereg regexp=".*" search_in="hdr" header="From:" assign_to="remote_from"/></action>'
        if answer_after_ms is not None
        else ""
    )
    ring = f"""
  <recv request="INVITE" crlf="true" rrs="true">{keep_from}</recv>
  <send><![CDATA[
SIP/2.0 180 Ringing
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:agent@[local_ip]:[local_port]>
Content-Length: 0

]]></send>
"""
    if answer_after_ms is None:
        body = """
  <recv request="CANCEL"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <send><![CDATA[
SIP/2.0 487 Request Terminated
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
CSeq: [cseq] INVITE
Content-Length: 0

]]></send>
  <recv request="ACK"/>
"""
    else:
        body = f"""
  <pause milliseconds="{answer_after_ms}"/>
  <send retrans="500"><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:agent@[local_ip]:[local_port]>
Content-Type: application/sdp
Content-Length: [len]

v=0
o=agent 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 8
a=rtpmap:8 PCMA/8000
a=sendrecv
]]></send>
  <recv request="ACK" rtd="true" crlf="true"/>
  <pause milliseconds="{talk_ms or 0}"/>
  <send retrans="500"><![CDATA[
BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:agent@[local_ip]:[local_port]>;tag=[pid]SIPpTag01[call_number]
To:[$remote_from]
Call-ID: [call_id]
CSeq: 2 BYE
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="200" crlf="true"/>
"""
    if answer_after_ms is not None and talk_ms is None:
        body = body[: body.index('  <pause milliseconds="0"/>')] + _RECV_BYE
        ring = ring.replace(keep_from, "")
    return _HEAD + '<scenario name="agent_phone">\n' + ring + body + "</scenario>\n"


def sipp_binary() -> str:
    path = shutil.which("sipp")
    if path is None:
        raise AssertionError("sipp is not installed: run `scripts/bootstrap.sh sipp` (Debian package sip-tester)")
    return path


@dataclass
class Sipp:
    """A running sipp; :meth:`wait` returns its exit status (0: every call passed)."""

    process: subprocess.Popen
    log: Path

    def wait(self, timeout: float) -> int:
        timeout *= UNIT
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"sipp still running after {timeout}s; its log:\n{self.output()}") from None

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def start_sipp(
    scenario: str,
    directory: Path,
    name: str,
    *,
    target: str | None,
    local_ip: str = "127.0.0.1",
    port: int = 0,
    media_port: int = 0,
    calls: int = 1,
    rate: float = 1.0,
    service: str = "ivr",
    extra: tuple[str, ...] = (),
) -> Sipp:
    """Run sipp with ``scenario`` (XML text); ``target`` host:port for a caller, None for a UAS."""
    xml = directory / f"{name}.xml"
    xml.write_text(scenario)
    log = directory / f"{name}.log"
    cmd = [
        sipp_binary(),
        "-sf",
        str(xml),
        "-i",
        local_ip,
        "-mi",
        local_ip,
        "-m",
        str(calls),
        "-r",
        str(rate),
        "-s",
        service,
        "-bg" if False else "-nostdin",
        "-trace_err",
        "-error_file",
        str(directory / f"{name}.err"),
    ]
    if port:
        cmd += ["-p", str(port)]
    if media_port:
        cmd += ["-mp", str(media_port)]
    cmd += list(extra)
    if target:
        cmd.append(target)
    with log.open("wb") as out:
        process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=directory)
    return Sipp(process, log)
