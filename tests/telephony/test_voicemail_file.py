"""A voicemail contact waits until its WAV is closed (PJSIP writes the RIFF length only when it destroys the
recorder's port, which can come after the recording was stopped)."""

from __future__ import annotations

import asyncio
import wave

from telephony.worker import _wav_closed


def _open_recording(path) -> None:
    """What PJSIP's WAV writer leaves while recording: a header with the RIFF and data lengths at 0."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(b"\x01\x00" * 8000)
    data = bytearray(path.read_bytes())
    data[4:8] = data[40:44] = b"\x00\x00\x00\x00"
    path.write_bytes(bytes(data))


def _close_recording(path) -> None:
    data = bytearray(path.read_bytes())
    data[4:8] = (len(data) - 8).to_bytes(4, "little")
    data[40:44] = (len(data) - 44).to_bytes(4, "little")
    path.write_bytes(bytes(data))


async def test_waits_until_the_recorder_writes_the_length(tmp_path):
    path = tmp_path / "vm.wav"
    _open_recording(path)
    asyncio.get_running_loop().call_later(0.2, _close_recording, path)
    assert await _wav_closed(str(path), wait=5.0)
    with wave.open(str(path)) as wav:  # readable now
        assert wav.getnframes() == 8000


async def test_gives_up_on_a_recording_never_closed(tmp_path):
    path = tmp_path / "vm.wav"
    _open_recording(path)
    assert not await _wav_closed(str(path), wait=0.1)
    assert not await _wav_closed(str(tmp_path / "missing.wav"), wait=0.1)
