"""What the telephony layer keeps in Redis (written by the ``tel_*`` scripts in ``telephony/lua``).

- ``or:{t}:tel:worker:<id>``: a worker's free legs, legs in use, SIP port and pid, with a TTL (``tel_beat``).
- ``or:{t}:tel:worker:<id>:contacts``: the contacts its callers belong to (``tel_hold``), so the pool can end
  them when the worker dies.
- ``or:{t}:tel:call:<contact>``: a call's record: RTP packet counts per leg, how it ended (``tel_cdr``).
- ``or:{t}:tel:claim:<contact>``: the worker dialling an accepted callback contact (``tel_claim``).
- ``or:{t}:tel:rejoin:<customer>``: the contact a customer abandoned by hanging up while queued, for
  ``ivr.rejoin_window`` seconds (``tel_left``); a call back within it takes that place (``tel_rejoin``).

No pjsua2 here: the pool (in ``omniroute serve``) reads this without loading the SIP stack.
"""

from __future__ import annotations

import socket

SCRIPTS = ("tel_beat", "tel_hold", "tel_cdr", "tel_claim", "tel_callback", "tel_left", "tel_rejoin")
HOLD_TTL = 86400  # bounds a worker's contacts set nobody cleans
CDR_TTL = 86400
DEFAULT_FLOW = "ivr.flow:session_for_call"  # module:function(config, caller_id, called) -> FlowSession


def worker_id(host: str, port: int) -> str:
    return f"{socket.gethostname()}:{host}:{port}"


def worker_key(prefix: str, wid: str) -> str:
    return f"{prefix}tel:worker:{wid}"


def worker_contacts_key(prefix: str, wid: str) -> str:
    return f"{prefix}tel:worker:{wid}:contacts"


def call_key(prefix: str, contact_id: str) -> str:
    return f"{prefix}tel:call:{contact_id}"


def claim_key(prefix: str, contact_id: str) -> str:
    return f"{prefix}tel:claim:{contact_id}"


def rejoin_key(prefix: str, customer: str) -> str:
    """Keyed by the customer's id (customers/ profiles), never by the caller's number."""
    return f"{prefix}tel:rejoin:{customer}"
