"""A tiny scripted IVR flow for the telephony tests (until ivr.flow lands): a two-level menu.

Main menu: 1 -> the sub-menu (3 sales, 2 support), 2 -> general, 9 -> voicemail (3 s recorded, then a
contact in general); anything else replays the menu; no input for 10 s hangs up. It returns
:mod:`ivr.actions` like the real interpreter, so the worker is tested on the contract, not on this script.
(No menu repeats a digit: sipp replays one pcap per digit with the same RTP timestamps, and a receiver
rightly takes a repeat for the same RFC 2833 event.)
Prompts are WAV files in $OMNIROUTE_TEST_PROMPTS (main.wav, sub.wav).
"""

from __future__ import annotations

import os
from pathlib import Path

from ivr.actions import Enqueue, Hangup, Play, Record, StopPlay, Wait


class MenuFlow:
    def __init__(self, prompts: Path) -> None:
        self.prompts = prompts
        self.level = "main"

    def _menu(self, now: float) -> list:
        return [Play(self.level, str(self.prompts / f"{self.level}.wav"), interruptible=True), Wait(now + 10)]

    def start(self, now: float) -> list:
        return self._menu(now)

    def digit(self, digit: str, now: float) -> list:
        if self.level == "main" and digit == "1":
            self.level = "sub"
            return [StopPlay(), *self._menu(now)]
        if self.level == "main" and digit == "9":
            self.level = "voicemail"
            path = str(self.prompts.parent / "voicemail.wav")
            return [StopPlay(), Record(path, max_seconds=3, queue="general", attrs={"menu": "voicemail"})]
        if self.level == "main" and digit == "2":
            return [StopPlay(), Enqueue("general", attrs={"menu": "general"})]
        if self.level == "sub" and digit in "23":
            queue = "sales" if digit == "3" else "support"
            return [StopPlay(), Enqueue(queue, attrs={"menu": queue})]
        return [StopPlay(), *self._menu(now)]

    def prompt_finished(self, now: float) -> list:
        return []

    def timer(self, now: float) -> list:
        return [Hangup("no_input")]

    def recording_finished(self, path: str, now: float) -> list:
        return [Hangup("completed")]

    def hangup(self, now: float) -> list:
        return []


def menu(config, caller: str, called: str) -> MenuFlow:
    return MenuFlow(Path(os.environ["OMNIROUTE_TEST_PROMPTS"]))
