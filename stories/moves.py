"""Topic moves (`Topic.moved_to`) as a graph: where a topic's URLs lead, and which topic
a podcast feed's identity comes from.

Plain data: the store hands over `{old slug: moved_to}`, each topic's recorded identity
and which slugs exist; the web layer turns an answer into a redirect. Chains are followed
with a bound and loops refused, so that no request and no write can walk in circles: a
write that would make a loop or a chain past the bound is refused (`MoveRefused`), and one
found in a store written before that rule answers a clear 404 (`MoveProblem`).

Identity is decided when a move is written, not worked out from the graph later: a move
onto a topic that has no stories yet is a rename, and the new topic carries on the old
podcast's guid; a move onto a topic with stories of its own is a merge, and the target,
an established show, keeps its own guid (the moved topic's subscribers are sent to it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .errors import InvalidInput, NotFound

# Renames rarely go past two or three; a longer chain is taken for a mistake.
MAX_MOVES = 5


class MoveProblem(NotFound):
    """A topic whose moves cannot be followed: a loop, or a chain past MAX_MOVES."""


class MoveRefused(InvalidInput):
    """A write whose moves would make a loop or a chain past MAX_MOVES: every feed of the
    topics on it would answer 404."""

    status = 422


@dataclass(frozen=True)
class TopicMoves:
    moves: Mapping[str, str]  # old slug -> the slug it moved to
    # A topic renamed into -> the topic whose first podcast feed gives it its guid; a
    # topic not listed is its own (the store records these as moves are written).
    identities: Mapping[str, str] = field(default_factory=dict)

    def chain(self, slug: str) -> list[str]:
        """`slug` and the topics it moved to, in order; MoveProblem on a loop or a chain
        of more than MAX_MOVES moves."""
        chain = [slug]
        while chain[-1] in self.moves:
            after = self.moves[chain[-1]]
            if after in chain:
                raise MoveProblem(
                    f"the topic {slug!r} moves in a loop: " + " -> ".join([*chain, after])
                )
            if len(chain) > MAX_MOVES:
                raise MoveProblem(
                    f"the topic {slug!r} moves more than {MAX_MOVES} times: "
                    + " -> ".join([*chain, after])
                )
            chain.append(after)
        return chain

    def destination(self, slug: str, exists: Callable[[str], bool]) -> str:
        """The topic that answers for `slug`: the furthest topic of its chain that exists
        (`slug` itself when it did not move, or moved to a topic not made yet, so that
        subscribers are never sent to a 404). MoveProblem as `chain`."""
        chain = self.chain(slug)
        for after in reversed(chain[1:]):
            if exists(after):
                return after
        return slug

    def origin(self, slug: str) -> str:
        """The topic whose first feed gives `slug`'s podcast feed its identity
        (podcast:guid): the one recorded when a rename led here, else `slug` itself."""
        return self.identities.get(slug, slug)

    def longest_chain_start(self, slug: str) -> str:
        """The start of the longest chain of moves that ends at `slug` (ties: the first
        slug), or `slug` itself when nothing moved into it: the identity rule of stores
        written before identities were recorded, kept for their migration
        (0004_topic_identity) so that no existing show's guid changes."""
        into: dict[str, list[str]] = {}
        for old, new in self.moves.items():
            into.setdefault(new, []).append(old)
        best, best_depth = slug, 0
        seen = {slug}
        level = [slug]
        for depth in range(1, MAX_MOVES + 1):
            level = sorted({old for s in level for old in into.get(s, ()) if old not in seen})
            if not level:
                break
            seen.update(level)
            best, best_depth = level[0], depth
        return best if best_depth else slug

    def refuse_broken_chains(self, changed: set[str]) -> None:
        """MoveRefused naming the chain when a topic whose chain passes through a
        `changed` slug moves in a loop or more than MAX_MOVES times."""
        # The changed topics first, so that the chain is named from the write's own topic.
        for slug in [*sorted(changed & self.moves.keys()), *sorted(self.moves.keys() - changed)]:
            if slug in changed or changed.intersection(self.downstream(slug)):
                try:
                    self.chain(slug)
                except MoveProblem as problem:
                    raise MoveRefused(f"moved_to refused, as {problem}; every feed of these "
                                      "topics would answer 404") from None

    def downstream(self, slug: str) -> list[str]:
        """The topics `slug` moves to, as far as the chain can be followed: the ones whose
        podcast identity a change to `slug` may change."""
        chain = [slug]
        while chain[-1] in self.moves and len(chain) <= MAX_MOVES:
            after = self.moves[chain[-1]]
            if after in chain:
                break
            chain.append(after)
        return chain[1:]
