"""Every contact with a library's private or unstable surface, in this one module, checked.

This branch holds graphql-core's token limit. `parse(max_tokens=N)`, an option graphql-core
3.3 documents as deprecated, refuses a longer document with a GraphQLSyntaxError, the same
type as any other syntax error, and no attribute, subclass or position tells the two apart:
only the message does. The gateway answers the first with TOO_MANY_TOKENS and the second with
GRAPHQL_PARSE_FAILED, so reading that message is unavoidable, and it is read here only
(`exceeded_token_limit`).

`check_contacts()` tries each contact once per process; one that no longer fits the
installed version is reported loudly: a warning on logger `gateway.compat` naming it and what
the gateway does instead. Without the message, a document past the limit is still refused
(graphql-core stops parsing it) but answered GRAPHQL_PARSE_FAILED; without the option, no
token limit is asked of graphql-core (`token_limit_supported()` is False) and documents are
bounded by their length only, rather than every parse failing on an unknown argument.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from graphql import GraphQLSyntaxError, parse

__all__ = [
    "CONTACTS",
    "TOKEN_LIMIT_MESSAGE",
    "TOKEN_LIMIT_OPTION",
    "BrokenContact",
    "broken_contacts",
    "check_contacts",
    "contact_fits",
    "exceeded_token_limit",
    "token_limit_supported",
]

logger = logging.getLogger("gateway.compat")

# The names of the contacts, as the log spells them.
TOKEN_LIMIT_OPTION = "graphql-core parse(max_tokens=) option"
TOKEN_LIMIT_MESSAGE = "graphql-core parse(max_tokens=) refusal message"


# -- graphql-core's token limit ------------------------------------------------------------


def token_limit_supported() -> bool:
    """Whether graphql-core's parse() still takes `max_tokens` (see `check_contacts`)."""
    return contact_fits(TOKEN_LIMIT_OPTION)


def exceeded_token_limit(error: GraphQLSyntaxError, max_tokens: int) -> bool:
    """Whether `error` is graphql-core refusing a document of more than `max_tokens` tokens
    (rather than a syntax error in it).

    graphql-core 3.3 gives the refusal no type of its own, so the message is compared, whole,
    with the one it builds from the limit (graphql/language/parser.py and lexer.py, both
    "Document contains more than N tokens. Parsing aborted."). False when the contact does
    not fit the installed graphql-core (see `check_contacts`).
    """
    return contact_fits(TOKEN_LIMIT_MESSAGE) and error.message == _token_limit_message(max_tokens)


def _token_limit_message(max_tokens: int) -> str:
    return f"Syntax Error: Document contains more than {max_tokens} tokens. Parsing aborted."


# Documents past a limit: plain tokens, and a comment counted as a token (graphql-core counts
# comments against max_tokens, and refuses while skipping them, with the same message).
_TOKEN_LIMIT_PROBES = (("{ a b c }", 2), ("# a\n{ a }", 1))


def _token_option_problem() -> str | None:
    if "max_tokens" not in inspect.signature(parse).parameters:
        return "graphql.parse() takes no max_tokens"
    return None


def _token_limit_problem() -> str | None:
    for source, max_tokens in _TOKEN_LIMIT_PROBES:
        refusal = _syntax_error(source, max_tokens)
        if refusal is None or refusal.message != _token_limit_message(max_tokens):
            return f"parse({source!r}, max_tokens={max_tokens}) gave {refusal!r}"
    genuine = _syntax_error("{ a", max_tokens=100)
    if genuine is None or genuine.message == _token_limit_message(100):
        return f"a syntax error reads {genuine!r}"
    return None


def _syntax_error(source: str, max_tokens: int) -> GraphQLSyntaxError | None:
    try:
        parse(source, max_tokens=max_tokens)
    except GraphQLSyntaxError as error:
        return error
    return None


# -- The check ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BrokenContact:
    """A contact that does not fit the installed library, and what the gateway does."""

    contact: str
    problem: str
    instead: str


_CHECKS: tuple[tuple[str, Callable[[], str | None], str], ...] = (
    (
        TOKEN_LIMIT_OPTION,
        _token_option_problem,
        "no token limit: documents are bounded by max_query_length only",
    ),
    (
        TOKEN_LIMIT_MESSAGE,
        _token_limit_problem,
        "documents past max_tokens are refused as GRAPHQL_PARSE_FAILED, not TOO_MANY_TOKENS",
    ),
)
CONTACTS = tuple(name for name, _, _ in _CHECKS)


@cache
def broken_contacts() -> tuple[BrokenContact, ...]:
    """The contacts that do not fit the installed libraries (checked once per process)."""
    broken = []
    for contact, check, instead in _CHECKS:
        try:
            problem = check()
        except Exception as error:  # a changed library may fail in any way: that is the finding
            problem = f"{type(error).__name__}: {error}"
        if problem is not None:
            broken.append(BrokenContact(contact, problem, instead))
    return tuple(broken)


def contact_fits(contact: str) -> bool:
    """Whether `contact` (one of CONTACTS) fits the installed library."""
    return all(broken.contact != contact for broken in broken_contacts())


def check_contacts() -> tuple[BrokenContact, ...]:
    """Check every contact, logging a warning for each that does not fit; returns those."""
    broken = broken_contacts()
    for each in broken:
        logger.warning(
            "Library contact %r does not fit the installed version (%s); instead: %s.",
            each.contact,
            each.problem,
            each.instead,
        )
    return broken
