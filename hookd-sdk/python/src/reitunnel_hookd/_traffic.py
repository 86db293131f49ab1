"""TrafficTotals: per-tunnel byte totals kept from the server's data batches."""

from __future__ import annotations

import collections
import dataclasses
import threading
from typing import Dict, Optional


@dataclasses.dataclass
class TunnelTotals:
    """What the batches said about one tunnel so far. "received" flows from
    visitors towards the agent's service, "sent" back to visitors."""

    client_id: str = ""
    tunnel_id: str = ""
    tunnel_name: str = ""
    bytes_received: int = 0
    bytes_sent: int = 0
    received_events: int = 0
    sent_events: int = 0
    visitors_opened: int = 0
    visitors_closed: int = 0


class TrafficTotals:
    """Adds up DataBatch traffic per tunnel and watches batch sequences.

        class Meter(Hook):
            def __init__(self):
                self.traffic = TrafficTotals()
            def on_data_batch(self, batch):
                if self.traffic.add_batch(batch):
                    log.warning("batches were lost")
            def on_tunnel_close(self, request):
                seen = self.traffic.close(request.tunnel_id)   # batched totals
                # request.bytes_received/bytes_sent are the exact totals

    Sequences are per server instance (batch.context.server.instance_id): a
    jump from N to N+k means k-1 batches were dropped (the hook was
    unreachable longer than the server buffers); a sequence at or below the
    last one seen is a batch delivered twice and is not counted again.
    close() forgets a tunnel, and batches naming it afterwards (one may
    still be in flight) are ignored, so totals never count a tunnel twice.
    Thread-safe.
    """

    def __init__(self, remember_closed: int = 100_000):
        self._lock = threading.Lock()
        self._tunnels: Dict[str, TunnelTotals] = {}
        self._last_sequence: Dict[str, int] = {}
        self._closed = set()
        self._closed_order = collections.deque()
        self._remember_closed = remember_closed
        self.missed_batches = 0
        self.duplicate_batches = 0
        self.batches = 0

    def add_batch(self, batch) -> int:
        """Counts `batch`; returns how many batches were missed just before
        it (0 when none)."""
        instance = batch.context.server.instance_id
        with self._lock:
            last = self._last_sequence.get(instance)
            if last is not None and batch.sequence <= last:
                self.duplicate_batches += 1
                return 0
            self._last_sequence[instance] = batch.sequence
            missed = batch.sequence - last - 1 if last is not None else 0
            self.missed_batches += missed
            self.batches += 1
            for t in batch.tunnels:
                if t.tunnel_id in self._closed:
                    continue
                totals = self._tunnels.get(t.tunnel_id)
                if totals is None:
                    totals = self._tunnels[t.tunnel_id] = TunnelTotals(
                        client_id=t.client_id, tunnel_id=t.tunnel_id)
                if t.tunnel_name:
                    totals.tunnel_name = t.tunnel_name
                totals.bytes_received += t.bytes_received
                totals.bytes_sent += t.bytes_sent
                totals.received_events += t.received_events
                totals.sent_events += t.sent_events
                totals.visitors_opened += t.visitors_opened
                totals.visitors_closed += t.visitors_closed
            return missed

    def get(self, tunnel_id: str) -> Optional[TunnelTotals]:
        """A copy of the tunnel's totals, or None if no batch named it."""
        with self._lock:
            totals = self._tunnels.get(tunnel_id)
            return dataclasses.replace(totals) if totals is not None else None

    def snapshot(self) -> Dict[str, TunnelTotals]:
        """Copies of every open tunnel's totals, by tunnel id."""
        with self._lock:
            return {k: dataclasses.replace(v) for k, v in self._tunnels.items()}

    def close(self, tunnel_id: str) -> TunnelTotals:
        """Forgets the tunnel and returns what the batches counted for it
        (zeros if none named it)."""
        with self._lock:
            totals = self._tunnels.pop(tunnel_id, None) or TunnelTotals(tunnel_id=tunnel_id)
            if tunnel_id not in self._closed:
                self._closed.add(tunnel_id)
                self._closed_order.append(tunnel_id)
                if len(self._closed_order) > self._remember_closed:
                    self._closed.discard(self._closed_order.popleft())
            return totals
