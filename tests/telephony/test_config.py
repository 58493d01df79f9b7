"""The telephony section of routing.yaml and the Kamailio config generated from it (checked by kamailio -c)."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.config import load, loads
from router.errors import ConfigError
from telephony import kamailio
from telephony.config import TelephonyConfig

ROOT = Path(__file__).resolve().parents[2]

BASE = """tenant: t
channels: {voice: {capacity: 1}}
skills: [sales]
queues:
  sales: {channels: [voice], skills: {sales: 1}}
agents:
  - {id: a1, skills: {sales: 5}, channels: [voice], sip_uri: "sip:a1@127.0.0.1:5201"}
telephony:
"""


def test_the_shipped_config_reads_and_its_kamailio_config_checks(tmp_path):
    tel = load(ROOT / "routing.yaml").telephony
    assert isinstance(tel, TelephonyConfig)
    assert tel.workers == 2 and tel.worker_ports() == [5100, 5101] and tel.allow == ("127.0.0.0/8",)
    cfg = kamailio.write(tel, tmp_path)
    kamailio.check(cfg)  # kamailio -c -f: fails with Kamailio's own message
    text = cfg.read_text()
    assert "src_ip == 127.0.0.0/8" in text and "pike_check_req()" in text and 'ds_select_dst("1", "4")' in text
    assert (tmp_path / "dispatcher.list").read_text().splitlines()[1:] == [
        "1 sip:127.0.0.1:5100 0 0",
        "1 sip:127.0.0.1:5101 0 0",
    ]


def test_a_broken_kamailio_config_is_reported_with_kamailios_words(tmp_path):
    cfg = kamailio.write(TelephonyConfig(), tmp_path)
    cfg.write_text(cfg.read_text().replace("pike_check_req()", "no_such_function()"))
    with pytest.raises(kamailio.KamailioError, match="no_such_function"):
        kamailio.check(cfg)


@pytest.mark.parametrize(
    ("section", "line", "path", "message"),
    [
        ("  workers: 0\n", 9, "telephony.workers", "expected an integer from 1 to 256, found 0"),
        ("  allow: [10.0.0.0/8, not-a-net]\n", 9, "telephony.allow[1]", "a network like 10.0.0.0/8"),
        ("  flood: {requests: 0}\n", 9, "telephony.flood.requests", "expected an integer >= 1, found 0"),
        ("  worker_prot: 5100\n", 9, "telephony.worker_prot", "did you mean 'worker_port'"),
        ("  worker_port: 5200\n  workers: 2\n", 9, "telephony.worker_port", "is an agent's phone"),
        ("  callers_per_worker: 5\n", 9, "telephony.callers_per_worker", "from 1 to 4"),
    ],
)
def test_bad_telephony_settings_name_file_line_and_key_path(section, line, path, message):
    with pytest.raises(ConfigError) as info:
        loads(BASE + section, source="routing.yaml")
    (problem,) = info.value.problems
    assert (problem.file, problem.line, problem.path) == ("routing.yaml", line, path)
    assert message in problem.message
    assert f"routing.yaml:{line}" in str(info.value)
