"""The three answers of a blocking event: allow, deny, or cannot decide."""

from __future__ import annotations

import dataclasses

ALLOW = "allow"
DENY = "deny"
CANNOT_DECIDE = "cannot_decide"


@dataclasses.dataclass(frozen=True)
class Decision:
    """What a blocking hook method returns; make one with allow(), deny() or
    cannot_decide()."""

    kind: str
    # The reason shown to the agent (deny) or logged by the server
    # (cannot_decide). Keep secrets out of it.
    reason: str = ""

    @property
    def allowed(self) -> bool:
        return self.kind == ALLOW


def allow() -> Decision:
    """ALLOW."""
    return Decision(ALLOW)


def deny(reason: str) -> Decision:
    """DENY with `reason`, which the server shows to the agent (truncated to
    512 bytes)."""
    return Decision(DENY, str(reason))


def cannot_decide(why: str) -> Decision:
    """No decision (a database is down, ...): the hook answers gRPC
    UNAVAILABLE and the server's failure policy for this hook (fail_closed or
    fail_open) decides, exactly as for a timeout."""
    return Decision(CANNOT_DECIDE, str(why))
