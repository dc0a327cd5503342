"""PlannedExecutor: graphql-core's executor, with queries run level by level from a plan.

graphql-core completes a result one object and one field at a time: for the 50-user nested
query that is ~7,700 field completions, each building a path, a resolve info and often a
coroutine. PlannedExecutor runs a query's plan (see plan.py) a
selection set at a time instead: every object of a level gets its attribute fields read in
one pass, its resolvers called in one pass and their awaitables settled together
(settle_tasks), and its child objects completed as one batch. Dataloaders see the same loads
in the same rounds, so a nested query costs the same statements.

Semantics are graphql-core's: resolvers get the same arguments and an info with the same
path; values are coerced by the same scalars; an error nulls the nearest nullable position
and is reported once with its path. What differs (README, "How a query runs"): the order
of `errors`, errors of the siblings of a failed non-null field, and the batch a load lands
in when it follows a bare loop iteration. Mutations, subscriptions and what build_plan
calls Unsupported run on graphql-core's own code path.
"""

from __future__ import annotations

import asyncio
import logging
from bisect import bisect_right
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from functools import cache
from itertools import accumulate, chain
from typing import Any, NamedTuple

from graphql import (
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    OperationType,
    located_error,
)
from graphql.execution.values import get_argument_values
from graphql.pyutils import Path, Undefined, is_iterable

from gateway.compat import INFO_CONSTRUCTOR, contact_fits, strawberry_schema_of
from gateway.execution.budgeted import BudgetedExecutor
from gateway.execution.byte_cache import (
    DEFAULT_CACHE_BYTES,
    PLAN_BYTES_PER_TOKEN,
    ByteBoundedLRU,
    CacheShares,
    estimated_bytes,
    token_count,
)
from gateway.execution.concurrent import run_sync_if_possible, settle_all, settle_tasks
from gateway.execution.leaves import MISS, complete_column, shortcut
from gateway.execution.plan import (
    FieldPlan,
    ObjectPlan,
    PlanContext,
    Unsupported,
    build_plan,
    depends_on_variables,
)

__all__ = ["FALLBACKS", "PlannedExecutor"]

logger = logging.getLogger("gateway.execution")

# How many operations graphql-core's executor ran instead of the plan, by reason, in this
# process: mutations and introspection always take that path; a query that should not is a
# fast path lost (tests count these; /metrics shows them).
FALLBACKS: Counter[str] = Counter()


def _fell_back(reason: str) -> ObjectPlan | None:
    """No plan: count why."""
    FALLBACKS[reason] += 1
    return None


# Paths are built only when asked for (a resolver's info, an error): most values never need
# theirs, and building one per object cost more than completing the object.
PathOf = Callable[[int], Path]
ObjectPathOf = Callable[[int], Path | None]  # None: the root

_MIN_INT, _MAX_INT = -(2**31), 2**31 - 1


# Plans by (schema, operation, hide_suggestions), bounded in bytes (gateway.execution.byte_cache). A
# schema that carries its own `plan_cache` (build_schema gives it its share of
# Settings.cache_bytes) keeps its plans there; this one serves any other schema.
PlanCache = ByteBoundedLRU[tuple[int, int, bool], tuple[Any, Any, ObjectPlan]]
_PLANS = PlanCache(max_bytes=CacheShares.split(DEFAULT_CACHE_BYTES).plans)
_UNLOCATED_TOKENS = 1_000  # what to assume for an operation parsed without locations


class _Level(NamedTuple):
    """The sources of one selection set being completed together."""

    type: GraphQLObjectType
    sources: Sequence[Any]
    path_of: ObjectPathOf


class _Column:
    """A field's values for a level, with what must be awaited before completing them:
    the awaitables left at `pending` positions, or a batch field's call for all of them."""

    __slots__ = ("batch", "pending", "values")

    def __init__(self, values: list[Any], batch: Awaitable[list[Any]] | None = None) -> None:
        self.values = values
        self.pending: list[int] = []
        self.batch = batch


class _Propagating:
    """A field error on its way up to the nearest nullable position."""

    __slots__ = ("error",)

    def __init__(self, error: GraphQLError) -> None:
        self.error = error


class PlannedExecutor(BudgetedExecutor):
    """Strawberry's executor class; pass it as `execution_context_class`.

    Within the operation's budget (budgeted.py): a level's
    values are counted before it is completed, and at each checkpoint the event loop runs."""

    def run_operation(self, serially: bool | None) -> Any:
        plan = self._plan() if serially is None else _fell_back("not a query")
        if plan is None:
            return super().run_operation(serially)
        return run_sync_if_possible(self._execute_plan(plan))

    def _plan(self) -> ObjectPlan | None:
        """The query's plan, or None when graphql-core must run the operation itself (each
        time counted in FALLBACKS by reason)."""
        if self.operation.operation is not OperationType.QUERY:
            return _fell_back("not a query")
        if (
            self.abort_signal is not None
            or self.hooks is not None
            or not self.error_propagation
            or (self.middleware_manager is not None and self.middleware_manager.middlewares)
            # Without Strawberry's Info the plan cannot call resolvers (logged at startup).
            or not contact_fits(INFO_CONSTRUCTOR)
        ):
            return _fell_back("executor options")
        root_type = self.schema.query_type
        if root_type is None:
            return _fell_back("no query type")
        strawberry_schema = strawberry_schema_of(self.schema)
        plans: PlanCache = getattr(strawberry_schema, "plan_cache", _PLANS)
        key = (id(self.schema), id(self.operation), self.hide_suggestions)
        cached = plans.get(key)
        if cached is not None and cached[0] is self.schema and cached[1] is self.operation:
            return cached[2]
        context = PlanContext(
            schema=self.schema,
            fragments=self.fragments,
            variable_values=self.variable_values,
            operation=self.operation,
            hide_suggestions=self.hide_suggestions,
            field_resolver=self.field_resolver,
            strawberry_schema=strawberry_schema,
        )
        try:
            plan = build_plan(context, root_type)
        except (Unsupported, GraphQLError, RecursionError):
            return _fell_back("unsupported")  # graphql-core's path reports these its own way
        except Exception:
            # A library changed under the planner: answer through graphql-core, loudly.
            logger.exception("Planning an operation failed; graphql-core's executor runs it")
            return _fell_back("planning failed")
        if not depends_on_variables(self.operation, self.fragments):
            # The document cache hands out the same parsed operation for the same text;
            # keeping a reference to it keeps its id from being reused.
            # The plan holds the operation's fields and those of the fragments it spreads.
            tokens = token_count(self.operation.loc, fallback=_UNLOCATED_TOKENS) + sum(
                token_count(fragment.definition.loc, fallback=_UNLOCATED_TOKENS)
                for fragment in self.fragments.values()
            )
            size = estimated_bytes(tokens, PLAN_BYTES_PER_TOKEN)
            plans.put(key, (self.schema, self.operation, plan), size=size)
        return plan

    async def _execute_plan(self, plan: ObjectPlan) -> Any:
        [data] = await self._complete_objects(plan, [self.root_value], _root_path)
        if isinstance(data, _Propagating):
            self.collected_errors.add(data.error, None)
            data = None
        return self.build_response(data)

    async def _complete_objects(
        self, plan: ObjectPlan, sources: Sequence[Any], path_of: ObjectPathOf
    ) -> list[Any]:
        """Each source completed as `plan.type`: a dict, or _Propagating if it is nulled."""
        count = len(sources)
        if not count:
            return []
        if not plan.fields:  # everything skipped: no columns to map plan.row over
            return [{} for _ in sources]
        if self.budget.spend(count * len(plan.fields)):
            await asyncio.sleep(0)  # a checkpoint: let other requests (and /health) run
        # Each field's values: read or resolved now, their awaitables started; then every
        # field is finished concurrently, so a field that is ready descends at once and the
        # loads of its children join the batches its siblings' resolvers are waiting for.
        level = _Level(plan.type, sources, path_of)
        columns: list[list[Any]] = []
        finishing: list[Coroutine[Any, Any, tuple[list[Any], list[int]]]] = []
        for field in plan.fields:
            if field.typename is not None:
                column = _Column([field.typename] * count)
            elif field.read is not None:
                column = _Column(_read_all(field.read, sources))
            else:
                column = self._resolve_all(field, level)
            columns.append(column.values)
            field_path_of = _field_path_of(path_of, field, plan.type.name)
            finishing.append(self._finish(field, column, field_path_of))
        nulled: dict[int, _Propagating] = {}
        for index, completion in enumerate(await settle_all(finishing)):
            if isinstance(completion, BaseException):
                raise completion  # a bug in this module, not a field error
            completed, failed = completion
            columns[index] = completed
            for position in failed:
                nulled.setdefault(position, completed[position])

        results: list[Any] = list(map(plan.row, *columns))
        for position, propagating in nulled.items():
            results[position] = propagating
        return results

    async def _finish(
        self, field: FieldPlan, column: _Column, path_of: PathOf
    ) -> tuple[list[Any], list[int]]:
        """The field's column with its awaitables' results in, completed."""
        values = column.values
        if column.batch is not None:
            [result] = await settle_tasks([column.batch])
            # A batch that failed failed for every row.
            values[:] = [result] * len(values) if isinstance(result, Exception) else result
        elif column.pending:
            settled = await settle_tasks([values[position] for position in column.pending])
            for position, value in zip(column.pending, settled, strict=True):
                values[position] = value
        if self.budget.exceeded is not None:  # a resolver was refused: the answer is lost
            raise self.budget.exceeded
        return await self._complete(field.return_type, values, path_of, field)

    def _resolve_all(self, field: FieldPlan, level: _Level) -> _Column:
        """The field's resolver called for every source of the level (a batch field's once);
        awaitables stay in the column, to be settled by _finish."""
        count = len(level.sources)
        arguments = self._arguments(field)
        if isinstance(arguments, Exception):  # every object gets the error, as in graphql-core
            return _Column([arguments] * count)
        direct = field.direct
        if direct is not None and direct.batch is not None:
            try:
                batch = direct.call_batch(
                    list(level.sources), self._info(field, level, 0), arguments
                )
            except Exception as error:
                return _Column([error] * count)
            return _Column([None] * count, batch=batch)
        if direct is not None:
            call = direct.caller(arguments)
        else:
            resolve = field.resolve
            assert resolve is not None

            def call(source: Any, info: Any) -> Any:
                return resolve(source, info, **arguments)

        is_awaitable = self.is_awaitable
        column = _Column([])
        values, pending = column.values, column.pending
        for index, source in enumerate(level.sources):
            try:
                value = call(source, self._info(field, level, index))
            except Exception as error:
                value = error
            else:
                if is_awaitable(value):
                    pending.append(index)
            values.append(value)
        return column

    def _info(self, field: FieldPlan, level: _Level, index: int) -> Any:
        """graphql-core's resolve info for the field of the level's source `index`."""
        path = Path(level.path_of(index), field.response_name, level.type.name)
        return self.build_resolve_info(field.definition, field.nodes, level.type, path)

    async def _complete(
        self, return_type: GraphQLOutputType, values: list[Any], path_of: PathOf, field: FieldPlan
    ) -> tuple[list[Any], list[int]]:
        """`values` completed as `return_type`, and the positions that propagate an error.

        A nullable position takes an error itself (recorded, value None); a non-null one
        passes it up as _Propagating.
        """
        if isinstance(return_type, GraphQLNonNull):
            completed, failed = await self._complete_nullable(
                return_type.of_type, values, path_of, field
            )
            if None in completed:
                for position, value in enumerate(completed):
                    if value is None:
                        message = (
                            "Cannot return null for non-nullable field "
                            f"{field.parent_name}.{field.definition_name}."
                        )
                        completed[position] = self._error(
                            TypeError(message), field, path_of(position)
                        )
                        failed.append(position)
            return completed, failed
        completed, failed = await self._complete_nullable(return_type, values, path_of, field)
        for position in failed:
            self.collected_errors.add(completed[position].error, path_of(position))
            completed[position] = None
        return completed, []

    async def _complete_nullable(
        self, return_type: GraphQLOutputType, values: list[Any], path_of: PathOf, field: FieldPlan
    ) -> tuple[list[Any], list[int]]:
        types = set(map(type, values))
        if any(map(_is_awaitable_type, types)):
            values = await self._awaited(values)
            types = set(map(type, values))
        if isinstance(return_type, GraphQLList):
            if types == _LIST_ONLY:
                return await self._complete_plain_lists(return_type, values, path_of, field)
            return await self._complete_lists(return_type, values, path_of, field)
        if isinstance(return_type, GraphQLObjectType):
            return await self._complete_object_values(values, types, path_of, field)
        return self._complete_leaves(return_type, values, types, path_of, field)

    async def _awaited(self, values: list[Any]) -> list[Any]:
        """`values` with every awaitable replaced by its result (or its exception), as
        graphql-core awaits awaitable field values and list items."""
        is_awaitable = self.is_awaitable
        positions = [position for position, value in enumerate(values) if is_awaitable(value)]
        settled = await settle_tasks([values[position] for position in positions])
        values = list(values)
        for position, value in zip(positions, settled, strict=True):
            values[position] = value
        return values

    def _complete_leaves(
        self,
        leaf_type: Any,
        values: list[Any],
        types: set[type],
        path_of: PathOf,
        field: FieldPlan,
    ) -> tuple[list[Any], list[int]]:
        if values:
            whole = complete_column(leaf_type, values, types)
            if whole is not None:
                return whole, []
        coerce = leaf_type.coerce_output_value
        quick = shortcut(leaf_type)
        completed: list[Any] = []
        failed: list[int] = []
        for position, value in enumerate(values):
            if value is None or value is Undefined:
                completed.append(None)
                continue
            coerced = quick(value)
            if coerced is not MISS:
                completed.append(coerced)
                continue
            try:
                if isinstance(value, Exception):
                    raise value
                coerced = coerce(value)
                if coerced is None or coerced is Undefined:
                    raise TypeError(
                        f"Expected `{leaf_type}.coerce_output_value({value!r})` to return "
                        f"non-nullable value, returned: {coerced!r}"
                    )
            except Exception as error:
                completed.append(self._error(error, field, path_of(position)))
                failed.append(position)
                continue
            completed.append(coerced)
        return completed, failed

    async def _complete_lists(
        self, list_type: GraphQLList[Any], values: list[Any], path_of: PathOf, field: FieldPlan
    ) -> tuple[list[Any], list[int]]:
        completed: list[Any] = [None] * len(values)
        failed: list[int] = []
        items: list[Any] = []
        positions: list[int] = []  # of the lists whose items are in `items`
        ends: list[int] = []  # where each of those lists ends in `items`
        for position, value in enumerate(values):
            if value is None or value is Undefined:
                continue
            if isinstance(value, Exception) or not (
                type(value) is list or type(value) is tuple or is_iterable(value)
            ):
                error = (
                    value
                    if isinstance(value, Exception)
                    else GraphQLError(
                        "Expected Iterable, but did not find one for field "
                        f"'{field.parent_name}.{field.definition_name}'."
                    )
                )
                completed[position] = self._error(error, field, path_of(position))
                failed.append(position)
                continue
            start = len(items)
            try:
                items.extend(value)
            except Exception as error:  # an iterable that fails midway: its field's error
                del items[start:]
                completed[position] = self._error(error, field, path_of(position))
                failed.append(position)
                continue
            positions.append(position)
            ends.append(len(items))
        lists, failed_lists = await self._complete_items(
            list_type, items, ends, lambda index: path_of(positions[index]), field
        )
        for position, completed_list in zip(positions, lists, strict=True):
            completed[position] = completed_list
        failed.extend(positions[index] for index in failed_lists)
        return completed, failed

    async def _complete_plain_lists(
        self,
        list_type: GraphQLList[Any],
        values: list[list[Any]],
        path_of: PathOf,
        field: FieldPlan,
    ) -> tuple[list[Any], list[int]]:
        """_complete_lists when every value is a list (no null, error or other iterable):
        the items gathered in C."""
        items = list(chain.from_iterable(values))
        return await self._complete_items(
            list_type, items, list(accumulate(map(len, values))), path_of, field
        )

    async def _complete_items(
        self,
        list_type: GraphQLList[Any],
        items: list[Any],
        ends: list[int],
        path_of: PathOf,
        field: FieldPlan,
    ) -> tuple[list[Any], list[int]]:
        """The lists `items[:ends[0]]`, `items[ends[0]:ends[1]]`, ... (list `index` at
        `path_of(index)`) completed as `list_type`, and the indexes of those that propagate
        an error (a non-null item failed: its list takes the first failing item's error)."""
        starts = [0, *ends[:-1]]
        list_path_of = _memoized(path_of)

        def item_path_of(item: int) -> Path:
            # The last list starting at or before `item`: empty lists before it share its start.
            index = bisect_right(starts, item) - 1
            return list_path_of(index).add_key(item - starts[index], None)

        completed_items, failed_items = await self._complete(
            list_type.of_type, items, item_path_of, field
        )
        lists: list[Any] = list(map(completed_items.__getitem__, map(slice, starts, ends)))
        failed: list[int] = []
        for item in sorted(failed_items):
            index = bisect_right(starts, item) - 1
            if index not in failed:
                lists[index] = completed_items[item]
                failed.append(index)
        return lists, failed

    async def _complete_object_values(
        self, values: list[Any], types: set[type], path_of: PathOf, field: FieldPlan
    ) -> tuple[list[Any], list[int]]:
        assert field.child is not None
        if _all_objects(types):  # the common case: no null, no error, nothing to sort out
            results = await self._complete_objects(field.child, values, _memoized(path_of))
            if _Propagating not in set(map(type, results)):
                return results, []
            return results, [i for i, result in enumerate(results) if type(result) is _Propagating]
        completed: list[Any] = [None] * len(values)
        failed: list[int] = []
        positions: list[int] = []
        for position, value in enumerate(values):
            if value is None or value is Undefined:
                continue
            if isinstance(value, Exception):
                completed[position] = self._error(value, field, path_of(position))
                failed.append(position)
                continue
            positions.append(position)
        objects = [values[position] for position in positions]
        object_path_of = _memoized(lambda index: path_of(positions[index]))
        results = await self._complete_objects(field.child, objects, object_path_of)
        for position, result in zip(positions, results, strict=True):
            completed[position] = result
            if isinstance(result, _Propagating):
                failed.append(position)
        return completed, failed

    def _arguments(self, field: FieldPlan) -> dict[str, Any] | Exception:
        """The field's arguments, coerced from the query and this request's variables."""
        detail = field.details[0]
        if not (field.definition.args or detail.node.arguments):
            return {}
        try:
            return get_argument_values(
                field.definition,
                detail.node,
                self.variable_values,
                detail.fragment_variable_values,
                self.hide_suggestions,
            )
        except Exception as error:
            return error

    @staticmethod
    def _error(error: Exception, field: FieldPlan, path: Path) -> _Propagating:
        return _Propagating(located_error(error, field.nodes, path.as_list()))


def _read_all(read: Callable[[Any], Any], sources: Sequence[Any]) -> list[Any]:
    """`read` of every source; a source that fails gets its exception as its value."""
    try:
        return list(map(read, sources))
    except Exception:
        column: list[Any] = []
        for source in sources:
            try:
                column.append(read(source))
            except Exception as error:
                column.append(error)
        return column


@cache
def _is_awaitable_type(kind: type) -> bool:
    return issubclass(kind, Coroutine | asyncio.Future) or hasattr(kind, "__await__")


def _all_objects(types: set[type]) -> bool:
    return not (
        _NONE_TYPE in types
        or _UNDEFINED_TYPE in types
        or any(issubclass(kind, Exception) for kind in types)
    )


def _memoized(path_of: PathOf) -> PathOf:
    paths: dict[int, Path] = {}

    def memoized(position: int) -> Path:
        path = paths.get(position)
        if path is None:
            path = paths[position] = path_of(position)
        return path

    return memoized


_NONE_TYPE = type(None)
_UNDEFINED_TYPE = type(Undefined)
_LIST_ONLY = {list}


def _root_path(_: int) -> None:
    return None


def _field_path_of(path_of: ObjectPathOf, field: FieldPlan, parent_name: str) -> PathOf:
    name = field.response_name
    return lambda position: Path(path_of(position), name, parent_name)
