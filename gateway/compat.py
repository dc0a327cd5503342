"""Every contact with a library's private names, in this one module, checked at startup.

Some of what the gateway does has no public API: the planned executor builds Strawberry's
`Info` and calls resolvers directly, the JSON fast path runs the steps of Strawberry's HTTP
view, the schema merger edits Strawberry's type map. Each such contact is a function here;
nothing else in the gateway names a private attribute of Strawberry, graphql-core or
asyncpg. (Two contacts keep their own fit check beside the code that needs them, and are
reported here too: uvicorn's protocol class, gateway.http.protocol, and graphql-core's
field-merging budget, gateway.limits.field_merging.)

One contact reads a message, because nothing else tells it apart: graphql-core's refusal of
a document past `parse(max_tokens=N)` (an option it documents as deprecated) is a plain
GraphQLSyntaxError, so `exceeded_token_limit` compares its message, whole, with the one
graphql-core builds; OperationLimits then gives it TOO_MANY_TOKENS. Broken, such a document is
still refused but as GRAPHQL_PARSE_FAILED; without the option, no token limit is asked of
graphql-core (`token_limit_supported()`) and documents are bounded by their length only.

`check_contacts()` tries every contact on a small probe schema once per process. A contact
that no longer fits the installed version is reported loudly, never silently: a warning on
logger `gateway.compat` naming it and what the gateway does instead, and
`gateway_library_contact_broken{contact="..."} 1` on /metrics. The code that uses a broken
contact takes its public path, slower and never wrong: graphql-core's executor instead of the
planned one, Strawberry's resolvers instead of direct calls, Strawberry's HTTP view instead
of the JSON fast path. The contacts without which the gateway cannot work at all (the
graphql-core schema of a Strawberry schema, Strawberry's type map) raise at schema build,
saying which version to install.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import asyncpg
import strawberry
from graphql import FieldNode, GraphQLError, GraphQLSchema, GraphQLSyntaxError, parse
from strawberry.http.async_base_view import AsyncBaseHTTPView
from strawberry.types.field import StrawberryField
from strawberry.types.info import Info

__all__ = [
    "ASYNCPG_POOL",
    "CONTACTS",
    "DEFAULT_RESOLVER",
    "EVENT_EXECUTOR_CACHES",
    "FIELD_MERGING_BUDGET",
    "HTTP_VIEW_STEPS",
    "INFO_CONSTRUCTOR",
    "RESOLVER_WRAPPER",
    "STRAWBERRY_SCHEMA_LINK",
    "TOKEN_LIMIT_MESSAGE",
    "TOKEN_LIMIT_OPTION",
    "UVICORN_PROTOCOL",
    "BrokenContact",
    "broken_contacts",
    "check_contacts",
    "contact_fits",
    "exceeded_token_limit",
    "field_nodes",
    "forget_event_caches",
    "graphql_schema",
    "handle_errors",
    "has_no_exception_handlers",
    "is_plain_attribute_read",
    "is_plain_resolver_wrapper",
    "new_info",
    "scalar_registry",
    "strawberry_schema_of",
    "strawberry_type_map",
    "token_limit_problems",
    "token_limit_supported",
]

logger = logging.getLogger("gateway.compat")

# The names of the contacts, as the log and the metric's `contact` label spell them.
INFO_CONSTRUCTOR = "strawberry.Info(_raw_info=, _field=)"
STRAWBERRY_SCHEMA_LINK = "GraphQLSchema._strawberry_schema"
DEFAULT_RESOLVER = "strawberry default resolver (_get_basic_result)"
RESOLVER_WRAPPER = "strawberry resolver wrapper (_resolver, _exception_handler_specs)"
HTTP_VIEW_STEPS = "strawberry AsyncBaseHTTPView steps (execute_single, _handle_errors, ...)"
ASYNCPG_POOL = "asyncpg.Pool.__init__ arguments"
UVICORN_PROTOCOL = "uvicorn H11Protocol (gateway.http.protocol)"
FIELD_MERGING_BUDGET = "graphql-core field-merging budget (gateway.limits.field_merging)"
TOKEN_LIMIT_OPTION = "graphql-core parse(max_tokens=) option"
TOKEN_LIMIT_MESSAGE = "graphql-core parse(max_tokens=) refusal message"
EVENT_EXECUTOR_CACHES = "graphql-core Executor's per-execution caches (_relevant_sub_fields)"
# A per-event executor is a shallow copy of the subscription's, sharing these memos; they
# are keyed by the identity of lists rebuilt for every event, so each event would add
# entries never read again (about 1.3 KiB per delivery, for the subscription's life).
_EVENT_CACHES = ("_relevant_sub_fields", "_stream_usages")

# What SharedPool passes to asyncpg.Pool.__init__, which asyncpg documents as internal.
POOL_PARAMETERS = frozenset(
    {
        "min_size",
        "max_size",
        "max_queries",
        "max_inactive_connection_lifetime",
        "init",
        "setup",
        "loop",
        "connection_class",
        "record_class",
    }
)
# The steps of Strawberry's HTTP view that GatewayRouter.run_json runs itself.
HTTP_VIEW_METHODS = ("execute_single", "process_result", "create_response", "_handle_errors")


# -- Strawberry's schema ------------------------------------------------------------------


def graphql_schema(schema: strawberry.Schema) -> GraphQLSchema:
    """The graphql-core schema Strawberry built (`Schema._schema`)."""
    built = getattr(schema, "_schema", None)
    if not isinstance(built, GraphQLSchema):
        raise RuntimeError(
            "strawberry.Schema no longer keeps its graphql-core schema in `_schema`: the "
            "gateway cannot validate or execute. Install the strawberry-graphql version "
            "pinned in pyproject.toml."
        )
    return built


def strawberry_schema_of(schema: GraphQLSchema) -> Any | None:
    """The Strawberry schema a graphql-core schema was built by, None if unknown."""
    return getattr(schema, "_strawberry_schema", None)


def strawberry_type_map(schema: strawberry.Schema) -> dict[str, Any]:
    """Strawberry's own map of type name -> its definition holder (`schema_converter`)."""
    type_map = getattr(getattr(schema, "schema_converter", None), "type_map", None)
    if not isinstance(type_map, dict):
        raise RuntimeError(
            "strawberry.Schema.schema_converter.type_map is gone: fields added to another "
            "service's type could not be resolved. Install the strawberry-graphql version "
            "pinned in pyproject.toml."
        )
    return type_map


def scalar_registry(schema: Any) -> Any:
    """The scalars a Strawberry schema was built with (its converter's registry)."""
    return schema.schema_converter.scalar_registry


# -- Strawberry's Info and resolvers -------------------------------------------------------


def new_info(info_class: type[Any], raw_info: Any, field: StrawberryField) -> Any:
    """Strawberry's Info for a field, as its resolver wrapper builds it."""
    return info_class(_raw_info=raw_info, _field=field)


def field_nodes(info: Any) -> tuple[FieldNode, ...]:
    """The query's nodes of the field a Strawberry `info` resolves (one per merged alias
    occurrence); the same objects for every parent of a level."""
    return tuple(info._raw_info.field_nodes)


def is_plain_attribute_read(resolve: Any) -> bool:
    """Whether a graphql-core resolver is Strawberry's default one, which only reads the
    field's attribute (`field.default_resolver(source, python_name)`)."""
    return (
        contact_fits(DEFAULT_RESOLVER)
        and bool(getattr(resolve, "_is_default", False))
        and getattr(resolve, "__name__", "") == "_get_basic_result"
    )


def is_plain_resolver_wrapper(resolve: Any) -> bool:
    """Whether a graphql-core resolver is Strawberry's wrapper of a field's resolver, which
    does nothing beyond converting arguments and building the Info."""
    return contact_fits(RESOLVER_WRAPPER) and getattr(resolve, "__name__", "") in (
        "_resolver",
        "_async_resolver",
    )


def has_no_exception_handlers(strawberry_schema: Any) -> bool:
    """Whether the schema's converter wraps no resolver in an exception handler."""
    converter = getattr(strawberry_schema, "schema_converter", None)
    return getattr(converter, "_exception_handler_specs", None) == ()


# -- Strawberry's HTTP view ----------------------------------------------------------------


def handle_errors(view: Any, errors: list[GraphQLError], response_data: Any) -> None:
    """Strawberry's error hook of an HTTP view (Sentry's integration overrides it)."""
    view._handle_errors(errors, response_data)


# -- graphql-core's token limit ------------------------------------------------------------


def token_limit_supported() -> bool:
    """Whether graphql-core's parse() still takes `max_tokens` (see `check_contacts`)."""
    return token_limit_problems()[TOKEN_LIMIT_OPTION] is None


@cache
def token_limit_problems() -> dict[str, str | None]:
    """What does not fit in the two token-limit contacts, by contact (None: it fits).

    Checked on its own, once per process, without the probe schema of `broken_contacts`:
    every operation asks `token_limit_supported()`, including those of a schema built
    without `create_app` (which checks every contact at startup)."""
    return {
        TOKEN_LIMIT_OPTION: _checked(_token_option_problem),
        TOKEN_LIMIT_MESSAGE: _checked(_token_limit_problem),
    }


def _checked(check: Callable[[], str | None]) -> str | None:
    try:
        return check()
    except Exception as error:  # a changed library may fail in any way: that is the finding
        return f"{type(error).__name__}: {error}"


def exceeded_token_limit(error: GraphQLSyntaxError, max_tokens: int) -> bool:
    """Whether `error` is graphql-core refusing a document of more than `max_tokens` tokens
    (rather than a syntax error in it).

    graphql-core 3.3 gives the refusal no type of its own, so the message is compared, whole,
    with the one it builds from the limit (graphql/language/parser.py and lexer.py, both
    "Document contains more than N tokens. Parsing aborted."). False when the contact does
    not fit the installed graphql-core (see `check_contacts`).
    """
    fits = token_limit_problems()[TOKEN_LIMIT_MESSAGE] is None
    return fits and error.message == _token_limit_message(max_tokens)


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


@strawberry.type(name="GatewayProbe")
class _Probe:
    plain: int = 1

    @strawberry.field
    def computed(self, info: strawberry.Info) -> str:
        return info.field_name


@strawberry.type(name="GatewayProbeQuery")
class _ProbeQuery:
    @strawberry.field
    def probe(self) -> _Probe:
        return _Probe()


def _info_problem(schema: strawberry.Schema) -> str | None:
    names = [field.name for field in dataclasses.fields(Info)]
    if names[:2] != ["_raw_info", "_field"]:
        return f"Info's fields are {names}"
    result = schema.execute_sync("{ probe { computed } }")
    if result.errors or result.data != {"probe": {"computed": "computed"}}:
        return f"the probe query answered {result.data} {result.errors}"
    return None


def _link_problem(schema: strawberry.Schema) -> str | None:
    if strawberry_schema_of(graphql_schema(schema)) is not schema:
        return "the graphql-core schema does not name the Strawberry schema that built it"
    return None


def _default_resolver_problem(schema: strawberry.Schema) -> str | None:
    resolve = graphql_schema(schema).get_type("GatewayProbe").fields["plain"].resolve  # type: ignore[union-attr]
    if not (getattr(resolve, "_is_default", False) and resolve.__name__ == "_get_basic_result"):
        return f"a plain field's resolver is {resolve!r}"
    return None


def _wrapper_problem(schema: strawberry.Schema) -> str | None:
    resolve = graphql_schema(schema).get_type("GatewayProbe").fields["computed"].resolve  # type: ignore[union-attr]
    if getattr(resolve, "__name__", "") not in ("_resolver", "_async_resolver"):
        return f"a resolver field's wrapper is {resolve!r}"
    if not has_no_exception_handlers(schema):
        return "schema_converter._exception_handler_specs is not () without handlers"
    return None


def _http_view_problem() -> str | None:
    missing = [
        name for name in HTTP_VIEW_METHODS if not callable(getattr(AsyncBaseHTTPView, name, None))
    ]
    return f"AsyncBaseHTTPView has no {', '.join(missing)}" if missing else None


def _pool_problem() -> str | None:
    accepted = set(inspect.signature(asyncpg.Pool.__init__).parameters)
    missing = sorted(POOL_PARAMETERS - accepted)
    return f"asyncpg.Pool.__init__ takes no {', '.join(missing)}" if missing else None


def _uvicorn_problem() -> str | None:
    from gateway.http.protocol import protocol_problems  # imports uvicorn: only when checked

    problems = protocol_problems()
    return "; ".join(problems) if problems else None


def forget_event_caches(executor: Any) -> None:
    """Give a subscription's per-event executor memos of its own, empty (graphql-core's
    share the subscription's, which then grow by one entry per event delivered)."""
    if not contact_fits(EVENT_EXECUTOR_CACHES):
        return
    for name in _EVENT_CACHES:
        setattr(executor, name, type(getattr(executor, name))())


def _event_caches_problem(schema: strawberry.Schema) -> str | None:
    from graphql.execution.executor import Executor

    executor = Executor.build(graphql_schema(schema), parse("{ probe { plain } }"))
    if not isinstance(executor, Executor):
        return "Executor.build did not build an executor for the probe"
    missing = [name for name in _EVENT_CACHES if not hasattr(executor, name)]
    return f"an Executor has no {', '.join(missing)}" if missing else None


def _merging_problem() -> str | None:
    from gateway.limits.field_merging import merging_budget_supported

    return None if merging_budget_supported() else "OverlappingFieldsCanBeMergedRule has no budget"


_CHECKS: tuple[tuple[str, Callable[[strawberry.Schema], str | None], str], ...] = (
    (
        INFO_CONSTRUCTOR,
        _info_problem,
        "queries run on graphql-core's executor, not the planned one (slower)",
    ),
    (
        STRAWBERRY_SCHEMA_LINK,
        _link_problem,
        "queries run on graphql-core's executor with the default execution budget",
    ),
    (DEFAULT_RESOLVER, _default_resolver_problem, "plain fields go through Strawberry's resolver"),
    (RESOLVER_WRAPPER, _wrapper_problem, "resolvers are called through Strawberry's wrapper"),
    (HTTP_VIEW_STEPS, lambda _: _http_view_problem(), "JSON POSTs go through Strawberry's view"),
    (ASYNCPG_POOL, lambda _: _pool_problem(), "none: the shared pool cannot be opened"),
    (
        UVICORN_PROTOCOL,
        lambda _: _uvicorn_problem(),
        "none: `gateway serve` refuses to start (header timeout, connection limit)",
    ),
    (
        FIELD_MERGING_BUDGET,
        lambda _: _merging_problem(),
        "field merging is validated without a budget per document",
    ),
    (
        EVENT_EXECUTOR_CACHES,
        _event_caches_problem,
        "a subscription's memory grows by about 1.3 KiB per event it delivers",
    ),
    (
        TOKEN_LIMIT_OPTION,
        lambda _: token_limit_problems()[TOKEN_LIMIT_OPTION],
        "no token limit: documents are bounded by max_query_length only",
    ),
    (
        TOKEN_LIMIT_MESSAGE,
        lambda _: token_limit_problems()[TOKEN_LIMIT_MESSAGE],
        "documents past max_tokens are refused as GRAPHQL_PARSE_FAILED, not TOO_MANY_TOKENS",
    ),
)
CONTACTS = tuple(name for name, _, _ in _CHECKS)


@cache
def broken_contacts() -> tuple[BrokenContact, ...]:
    """The contacts that do not fit the installed libraries (checked once per process)."""
    schema = strawberry.Schema(query=_ProbeQuery)
    broken = []
    for contact, check, instead in _CHECKS:
        try:
            problem = check(schema)
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
            "Library contact %r does not fit the installed version (%s); instead: %s. "
            "Install the versions pinned in pyproject.toml (constraints.txt).",
            each.contact,
            each.problem,
            each.instead,
        )
    return broken
