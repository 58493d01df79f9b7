"""Omniroute's exceptions.

The tree::

    OmnirouteError
     ├── ConfigError          routing.yaml or a scenario file is wrong (carries every problem found)
     ├── IllegalTransition    a lifecycle move that the table in router.lifecycle does not allow (pure core)
     ├── StaleDecision        a Redis script refused a decision: the state moved on under the router
     ├── GatewayProtocolError a websocket peer sent something the protocol does not allow
     └── IvrError             an IVR flow could not continue
"""

from __future__ import annotations

from dataclasses import dataclass


class OmnirouteError(Exception):
    """Base class of every error Omniroute raises on purpose."""


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One problem found in a configuration file, located as precisely as the YAML allows."""

    file: str
    line: int  # 1-based; 0 when unknown
    column: int  # 1-based; 0 when unknown
    path: str  # key path such as ``queues.sales.skills.sales``
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(OmnirouteError):
    """The configuration is invalid; ``problems`` lists every problem found, not just the first."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class IllegalTransition(OmnirouteError):
    """A contact or agent was asked to make a move its lifecycle table does not list."""

    def __init__(self, entity: str, state: str, event: str) -> None:
        self.entity, self.state, self.event = entity, state, event
        super().__init__(f"{entity} can't handle {str(event)!r} in state {str(state)!r}")


class StaleDecision(OmnirouteError):
    """A Redis script refused to commit: its preconditions no longer hold (``code`` says which)."""

    def __init__(self, operation: str, code: str) -> None:
        self.operation, self.code = operation, code
        super().__init__(f"{operation} refused: {code}")


class GatewayProtocolError(OmnirouteError):
    """A websocket peer sent a message the protocol does not allow."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


class IvrError(OmnirouteError):
    """An IVR flow could not continue."""
