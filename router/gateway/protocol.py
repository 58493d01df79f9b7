"""The websocket protocol, version 1: every message both ways, as frozen dataclasses (``docs/protocol.md``).

Theory of operation
-------------------
Every frame is one JSON object with a ``type``. :func:`parse` turns a frame into the typed command of the
endpoint it arrived on, or raises :class:`ProtocolError` with a code and a human message; the gateway
answers that with an ``error`` message and keeps the connection. Nothing below the parser sees raw JSON.
A command may carry an ``id`` (text or number, chosen by the client); the reply to it, or the ``error``
it caused, repeats it as ``id``. Messages from the server are plain dicts built by :func:`message`.
"""

from __future__ import annotations

import functools
import types
import typing
from dataclasses import MISSING, dataclass, fields
from enum import StrEnum
from typing import Any

import orjson

VERSION = 1


class ErrorCode(StrEnum):
    BAD_JSON = "bad_json"  # not JSON, or not a JSON object
    UNKNOWN_TYPE = "unknown_type"  # no such message type on this endpoint
    MISSING_FIELD = "missing_field"
    BAD_FIELD = "bad_field"  # a field of the wrong type or value, or one the message doesn't have
    TOO_LARGE = "too_large"  # a frame over the endpoint's size limit
    RATE_LIMITED = "rate_limited"  # too many messages; this one was dropped
    UNAUTHORIZED = "unauthorized"  # unknown id or wrong token
    NOT_LOGGED_IN = "not_logged_in"
    ALREADY_LOGGED_IN = "already_logged_in"
    FORBIDDEN = "forbidden"  # not yours: another agent's offer or contact, another customer's conversation
    NOT_FOUND = "not_found"  # no such contact, offer, queue or agent
    OFFER_GONE = "offer_gone"  # the offer expired, was revoked or answered already
    ILLEGAL_STATE = "illegal_state"  # the contact or agent isn't in a state that allows this
    NOT_ALLOWED = "not_allowed"  # a transfer to a SIP URI that is not on ivr.transfer_allow
    REPLACED = "replaced"  # the same agent logged in on another connection
    INTERNAL = "internal"  # a fault of the server (logged); the connection lives on


class ProtocolError(Exception):
    """A message the server refuses; becomes an ``error`` reply."""

    def __init__(self, code: ErrorCode, message: str, *, id: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.id = id


# -- commands: agent endpoint --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentLogin:
    agent: str
    token: str
    id: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SetState:
    state: str  # available, away, offline
    reason: str = ""
    id: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Accept:
    offer: str
    id: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Reject:
    offer: str
    id: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentMessage:
    contact: str
    text: str
    id: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Complete:
    contact: str
    disposition: str
    note: str = ""
    id: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class EndWrapup:
    contact: str
    id: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Transfer:
    """To another queue (back of its line), to an agent (its queue, preferring that agent), or, for a call,
    out of the center to a SIP URI on ``ivr.transfer_allow`` (the contact completes, disposition
    ``transferred``). Exactly one of ``queue``, ``agent``, ``uri``."""

    contact: str
    queue: str = ""
    agent: str = ""
    uri: str = ""
    id: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkIdentifier:
    """Agents and supervisors: add an identifier (phone, email, crm, ...) to a customer's profile."""

    customer: str
    kind: str
    value: str
    id: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MergeCustomers:
    """Agents and supervisors: ``other`` was the same person as ``into``; undone with ``unmerge``."""

    into: str
    other: str
    id: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class UnmergeCustomers:
    merge: str
    id: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Ping:
    id: Any = None


# -- commands: customer endpoint -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class StartChat:
    name: str
    text: str
    email: str = ""
    phone: str = ""
    topic: str = ""  # a topic from gateway.chat.topics, or ...
    queue: str = ""  # ... a queue that takes chat
    id: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ResumeChat:
    contact: str
    session: str
    id: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerMessage:
    text: str
    contact: str = ""  # optional; must be the customer's own
    id: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Leave:
    contact: str = ""
    id: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Survey:
    score: int
    contact: str = ""
    id: Any = None


# -- commands: connector and supervisor endpoints --------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Inbound:
    channel: str
    sender: str  # "from" on the wire
    text: str
    queue: str = ""
    crm: str = ""  # the customer's id in the connector's CRM, when it knows it
    id: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectorLogin:
    connector: str
    token: str
    id: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SupervisorLogin:
    supervisor: str
    token: str
    id: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ForwardedSurvey:
    """A connector forwards a customer's 1-5 answer for a contact of its channel."""

    contact: str
    score: int
    id: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ForceState:
    agent: str
    state: str
    reason: str = ""
    id: Any = None


Command = (
    AgentLogin
    | ConnectorLogin
    | SupervisorLogin
    | SetState
    | Accept
    | Reject
    | AgentMessage
    | Complete
    | EndWrapup
    | Transfer
    | Ping
    | StartChat
    | ResumeChat
    | CustomerMessage
    | Leave
    | Survey
    | Inbound
    | ForwardedSurvey
    | LinkIdentifier
    | MergeCustomers
    | UnmergeCustomers
    | ForceState
)

AGENT: dict[str, type] = {
    "login": AgentLogin,
    "state": SetState,
    "accept": Accept,
    "reject": Reject,
    "message": AgentMessage,
    "complete": Complete,
    "end_wrapup": EndWrapup,
    "transfer": Transfer,
    "link": LinkIdentifier,
    "merge": MergeCustomers,
    "unmerge": UnmergeCustomers,
    "ping": Ping,
}
CUSTOMER: dict[str, type] = {
    "start": StartChat,
    "resume": ResumeChat,
    "message": CustomerMessage,
    "leave": Leave,
    "survey": Survey,
    "ping": Ping,
}
CONNECTOR: dict[str, type] = {"login": ConnectorLogin, "inbound": Inbound, "survey": ForwardedSurvey, "ping": Ping}
SUPERVISOR: dict[str, type] = {
    "login": SupervisorLogin,
    "force_state": ForceState,
    "link": LinkIdentifier,
    "merge": MergeCustomers,
    "unmerge": UnmergeCustomers,
    "ping": Ping,
}

_WIRE_NAMES = {"sender": "from"}  # Python names that are keywords on the wire
_MAX_TEXT = 4000  # characters in a chat message


@functools.cache
def _shape(cls: type) -> tuple[tuple[tuple[str, str, bool, Any], ...], frozenset[str]]:
    """A command class's fields as (name, wire name, required, type hint), and the wire names it allows
    (resolving the hints on every frame was 4% of the gateway under load)."""
    hints = typing.get_type_hints(cls)
    shape = tuple(
        (f.name, _WIRE_NAMES.get(f.name, f.name), f.default is MISSING, hints[f.name]) for f in fields(cls)
    )
    return shape, frozenset({"type", *(wire for _, wire, _, _ in shape)})


def parse(frame: str | bytes, commands: dict[str, type]) -> Command:
    """The typed command in ``frame``; ``commands`` maps the endpoint's message types to their classes.

    Raises:
        ProtocolError: bad JSON, unknown type, a missing, unknown or wrongly typed field.
    """
    try:
        data = orjson.loads(frame)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(ErrorCode.BAD_JSON, f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ProtocolError(ErrorCode.BAD_JSON, f"expected a JSON object, got {type(data).__name__}")
    request_id = data.get("id")
    if request_id is not None and (isinstance(request_id, bool) or not isinstance(request_id, str | int)):
        raise ProtocolError(ErrorCode.BAD_FIELD, "'id' must be text or an integer")
    kind = data.get("type")
    if not isinstance(kind, str):
        raise ProtocolError(ErrorCode.MISSING_FIELD, "every message needs a 'type' (text)", id=request_id)
    cls = commands.get(kind)
    if cls is None:
        known = ", ".join(sorted(commands))
        raise ProtocolError(
            ErrorCode.UNKNOWN_TYPE, f"unknown message type {kind!r}; this endpoint takes {known}", id=request_id
        )
    values: dict[str, Any] = {}
    shape, allowed = _shape(cls)
    for name, wire, required, hint in shape:
        if wire not in data:
            if required:
                raise ProtocolError(ErrorCode.MISSING_FIELD, f"'{kind}' needs '{wire}'", id=request_id)
            continue
        values[name] = _check(kind, wire, data[wire], hint, request_id)
    extra = sorted(set(data) - allowed)
    if extra:
        raise ProtocolError(ErrorCode.BAD_FIELD, f"'{kind}' has no field {extra[0]!r}", id=request_id)
    return cls(**values)


def _check(kind: str, name: str, value: Any, hint: Any, request_id: Any) -> Any:
    if hint is Any:
        return value
    expected = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    ok = any(isinstance(value, t) and not (t is int and isinstance(value, bool)) for t in expected)
    if not ok:
        names = " or ".join("text" if t is str else "an integer" if t is int else t.__name__ for t in expected)
        raise ProtocolError(ErrorCode.BAD_FIELD, f"'{kind}.{name}' must be {names}", id=request_id)
    if isinstance(value, str) and len(value) > _MAX_TEXT:
        raise ProtocolError(
            ErrorCode.BAD_FIELD, f"'{kind}.{name}' is longer than {_MAX_TEXT} characters", id=request_id
        )
    return value


def message(type_: str, /, **body: Any) -> str:
    """A server message as its JSON text; ``None`` values are left out."""
    out = {"type": type_}
    out.update((k, v) for k, v in body.items() if v is not None)
    return orjson.dumps(out, option=orjson.OPT_NON_STR_KEYS).decode()


def error(code: ErrorCode, text: str, *, id: Any = None) -> str:
    return message("error", code=str(code), message=text, id=id)
