"""``omniroute prompts build``: render routing.yaml's text prompts to 8 kHz mono WAVs (see :mod:`ivr.prompts`)."""

from __future__ import annotations

import argparse
import sys

from ivr.config import IvrConfig
from ivr.prompts import build
from router.cli import command, read_config
from router.errors import IvrError


def _build_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--force", action="store_true", help="render every prompt, changed or not")


@command("prompts build", "render the IVR's text prompts to WAV with espeak-ng and sox", _build_arguments)
def cmd_prompts_build(args: argparse.Namespace) -> int:
    config = read_config(args.config)
    if config is None:
        return 1
    ivr = config.ivr
    if not isinstance(ivr, IvrConfig):
        print(f"{args.config}: the ivr section was not read", file=sys.stderr)
        return 1
    try:
        report = build(ivr, force=args.force)
    except IvrError as exc:
        print(f"prompts build: {exc}", file=sys.stderr)
        return 1
    print(f"prompts: {len(report.rendered)} rendered, {len(report.skipped)} unchanged, in {ivr.prompts_dir}")
    if report.music_on_hold:
        print(f"music on hold: {report.music_on_hold}")
    return 0
