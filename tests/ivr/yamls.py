"""A small routing.yaml with an IVR for the ivr tests, and helpers to load variants of it."""

from __future__ import annotations

from router.config.loader import loads
from router.config.model import Config

BASE = """\
tenant: ivrtest
channels:
  voice: {capacity: 1, exclusive: true}
skills: [sales, support, billing, en, pt]
queues:
  sales: {channels: [voice], skills: {sales: 1}}
  support: {channels: [voice], skills: {support: 1}}
  billing: {channels: [voice], skills: {billing: 1}}
  general: {channels: [voice], skills: {}}
"""

IVR = """\
ivr:
  language: en
  languages: [en, pt]
  prompts_dir: prompts
  voicemail_dir: voicemail
  transfer_allow: ["sip:*@partner.example"]
  entry: {default: main, numbers: {"8100": billing_line}}
  announce: {frequency: 60, min_frequency: 15, callback_key: "9"}
  prompts:
    welcome: {en: Welcome., pt: Bem-vindo.}
    lang: {en: For English press 1. Para portugues prima 2., pt: For English press 1. Para portugues prima 2.}
    main: {en: Sales 1 support 2 billing 3 callback 9 operator 0., pt: Vendas 1 apoio 2 faturacao 3.}
    support: {en: Internet 1 mobile 2., pt: Internet 1 telemovel 2.}
    account: {en: Enter your account number then hash., pt: Numero de conta e cardinal.}
    invalid: {en: Not a valid choice., pt: Opcao invalida.}
    connecting: {en: Connecting., pt: A ligar.}
    closed: {en: We are closed., pt: Estamos fechados.}
    message: {en: Leave a message., pt: Deixe mensagem.}
    bye: {en: Goodbye., pt: Adeus.}
    position_is: {en: You are number, pt: Esta na posicao}
    in_line: {en: in line., pt: da fila.}
    you_are_next: {en: You are next., pt: E o proximo.}
    wait_is: {en: Your wait is, pt: A espera e de}
    minute: {en: minute., pt: minuto.}
    minutes: {en: minutes., pt: minutos.}
    callback_offer: {en: Press 9 for a callback., pt: Prima 9.}
    jingle: {file: audio/jingle.wav}
  flows:
    main:
      start: welcome
      nodes:
        welcome: {type: play, prompt: welcome, next: hours}
        hours:
          type: hours
          timezone: Europe/Lisbon
          week: {mon: "08:00-20:00", tue: "08:00-20:00", wed: "08:00-20:00", thu: "08:00-20:00",
                 fri: "08:00-12:00, 13:00-20:00", sat: "09:00-13:00", sun: closed}
          holidays: [2026-12-25]
          open: language
          closed: closed
        language:
          type: menu
          prompt: lang
          options: {"1": english, "2": portuguese}
          retries: 0
          fallback: english
        english: {type: set, language: en, next: main_menu}
        portuguese: {type: set, language: pt, next: main_menu}
        main_menu:
          type: menu
          prompt: main
          options: {"1": sales, "2": support_menu, "3": account, "9": callback, "0": general}
          timeout: 5
          retries: 2
          invalid: invalid
          fallback: general
          attribute: topic
        support_menu:
          type: menu
          prompt: support
          options: {"1": internet, "2": mobile}
          invalid: invalid
          fallback: support
        internet: {type: set, attrs: {product: internet}, skills: {support: 5}, next: support}
        mobile: {type: set, attrs: {product: mobile}, priority: 3, next: support}
        account:
          type: collect
          prompt: account
          attribute: account
          min_digits: 4
          max_digits: 8
          timeout: 6
          retries: 1
          invalid: invalid
          next: billing
          fallback: general
        sales: {type: queue, prompt: connecting, queue: sales}
        support: {type: queue, queue: support}
        billing: {type: queue, prompt: connecting, queue: billing, priority: 1}
        general: {type: queue, queue: general}
        callback: {type: callback, prompt: bye, queue: general}
        closed: {type: play, prompt: closed, next: voicemail}
        voicemail: {type: voicemail, prompt: message, queue: general, max_seconds: 60, next: goodbye}
        goodbye: {type: hangup, prompt: bye, reason: closed}
    billing_line:
      start: account
      nodes:
        account: {type: collect, prompt: account, attribute: account, terminator: "", max_digits: 4, next: out}
        out: {type: transfer, uri: "sip:billing@partner.example"}
"""


def load_ivr(ivr: str = IVR, source: str = "ivrtest.yaml") -> Config:
    return loads(BASE + ivr, source)


def line_of(text: str, needle: str) -> int:
    """The 1-based line of the first line of ``BASE + text`` containing ``needle``."""
    for number, line in enumerate((BASE + text).splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} is not in the test YAML")
