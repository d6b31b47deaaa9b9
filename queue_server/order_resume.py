"""Where a replay of Next can start again after one more walk-in arrived (``order.newcomers_ahead``).

Part of the pure engine (no I/O). The services summary estimates a newcomer from one replay of
Next over the waiting tickets, once per state. After an issue the state is the one before
plus one walk-in without priority who arrived last: that ticket stands in its lanes exactly
where the previous state's newcomer of its service stood, so the replay with it calls what
the replay without it called until the first turn at which a newcomer without priority was
first in one of its lanes, and finds the same answers for the newcomers it answered before
that turn. ``capture`` keeps the replay's state at that turn; ``restore`` puts the next
replay's lanes there, so that replay only runs from there on. (A priority newcomer is first
in its priority lane as soon as no priority ticket waits before it, often at the first turn:
a priority ticket's issue is replayed afresh.)

A lane's cursor may stand anywhere between where it last stopped and its first ticket not
taken (``_Lane.first`` skips taken tickets); where the late ticket was placed before a kept
cursor (every ticket before it taken), the cursor goes back to the late ticket.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .engine import Ticket
    from .order import Counts, Picker

# Per counter: its transferred lane, its pools' lanes (everyone, front, priority) × (main,
# backup), its due and early appointments.
_Cursors = tuple[int, tuple[int, ...], int, int]


@dataclass(frozen=True, eq=False)
class Checkpoint:
    """A replay's state at the start of counter ``turn``'s turn (its index in the counters)."""

    taken: frozenset[int]
    counts: Counts
    ahead: int
    shadow: int
    priority_left: int
    due_left: int
    turn: int
    progressed: bool  # whether a counter before ``turn`` called someone in this round
    step: int  # turns the replay made before this one
    cursors: tuple[_Cursors, ...]


def capture(
    pickers: list[Picker],
    taken: set[int],
    counts: Counts,
    ahead: int,
    shadow: int,
    priority_left: int,
    due_left: int,
    turn: int,
    progressed: bool,
    step: int,
) -> Checkpoint:
    """The state of a replay at counter ``turn``'s turn, before that counter's ticket is taken
    (its pick only moved cursors past taken tickets)."""
    cursors = tuple(
        (p.targeted.i, tuple(lane.i for pool in p.pools for lane in pool), p.due.i, p.early.i) for p in pickers
    )
    return Checkpoint(frozenset(taken), counts, ahead, shadow, priority_left, due_left, turn, progressed, step, cursors)


def restore(cp: Checkpoint, late: Ticket, pickers: list[Picker]) -> None:
    """Put the lanes of ``pickers`` (made with ``late``) where ``cp`` left the lanes made
    without it."""
    from .order import _Hop

    done: set[int] = set()  # lanes are shared by counters with the same levels
    for p, (targeted, pools, due, early) in zip(pickers, cp.cursors, strict=True):
        p.targeted.i, p.due.i, p.early.i = targeted, due, early
        cursors = iter(pools)
        for k, pool in enumerate(p.pools):
            lanes = list(pool)
            for j, lane in enumerate(pool):
                i = next(cursors)
                if id(lane) in done:
                    continue
                lane.i = i
                # Where ``late`` can stand in a pool lane: last, or last of the primary tickets.
                for at in (len(lane.items) - 1, p.splits[0] - 1, p.splits[1] - 1):
                    if 0 <= at < i and lane.items[at] is late:
                        lanes[j] = _Hop(lane.items, at, i + 1)  # every ticket between was taken
                        break
                done.add(id(lanes[j]))
            p.pools[k] = (lanes[0], lanes[1], lanes[2])
