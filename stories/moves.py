"""Topic moves (`Topic.moved_to`) as a graph: where a topic's URLs lead, and which topic
a podcast feed's identity comes from.

Plain data: the store hands over `{old slug: moved_to}` and which slugs exist; the web
layer turns an answer into a redirect. Chains are followed with a bound and loops refused,
so that no request and no write can walk in circles.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .errors import NotFound

# Renames rarely go past two or three; a longer chain is taken for a mistake.
MAX_MOVES = 5


class MoveProblem(NotFound):
    """A topic whose moves cannot be followed: a loop, or a chain past MAX_MOVES."""


@dataclass(frozen=True)
class TopicMoves:
    moves: Mapping[str, str]  # old slug -> the slug it moved to

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
        """The topic a moved-into topic's podcast feed takes its identity (podcast:guid)
        from: the start of the longest chain of moves that ends at `slug` (ties: the
        first slug), or `slug` itself when nothing moved into it.

        A rename (a -> b, later b -> c) keeps the first feed's guid all along; when several
        topics merge into one, only one identity can go on, and this picks it the same way
        every time.
        """
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
