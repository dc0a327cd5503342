"""BudgetedExecutor: Strawberry's executor with an ExecutionBudget (budget.py) per operation.

    schema = GatewaySchema(..., execution_context_class=BudgetedExecutor)
    schema.execution_limits = limits  # build_schema does this; other schemas get Limits()

Every operation gets a deadline (`Limits.max_execution_ms`) and a value cap
(`Limits.max_response_values`). Going past either answers the operation with one error,
OPERATION_TIMEOUT or RESPONSE_TOO_LARGE, and `data: null`: a partial answer cut at an
arbitrary point is no use to a client, and thousands of per-field errors would cost more
than the answer.

- Queries: the clock is read at checkpoints while values are completed, and a timer
  cancels whatever the operation is waiting for (a statement, a pool connection) at the
  deadline.
- Mutations are never cancelled: a cancelled COMMIT can report failure for something that
  committed. The deadline is checked before each root mutation field starts; a field that
  started runs to its end. Its answer still counts against the value cap, and that error
  says the changes were made.

graphql-core's own path (mutations, and queries the planned executor leaves to it) counts an
object's fields when it executes them, and completes long lists item by item, letting the
event loop run whenever a checkpoint has passed. PlannedExecutor
(executor.py) counts a level at a time and yields at checkpoints itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Iterable
from typing import Any

from graphql import (
    ExecutionResult,
    GraphQLError,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    OperationType,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.pyutils import Path, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from gateway.compat import forget_event_caches, strawberry_schema_of
from gateway.execution.budget import (
    YIELD_EVERY_ON_GRAPHQL_CORE,
    BudgetExceeded,
    ExecutionBudget,
    OperationTimeout,
    set_current_budget,
)
from gateway.limits.rules import Limits

__all__ = ["BudgetedExecutor", "missing_executor_methods"]

logger = logging.getLogger("gateway.execution")

# graphql-core's (private) Executor methods that BudgetedExecutor overrides or calls. Were
# one renamed, the budget would silently stop counting on graphql-core's path: say so.
_GRAPHQL_CORE_METHODS = (
    "execute_operation",
    "execute_fields",
    "execute_fields_serially",
    "execute_field",
    "complete_iterable_value",
    "complete_list_item_value",
    "complete_awaitable_list_item_value",
    "settle_in_background",
)


def missing_executor_methods() -> list[str]:
    """The graphql-core Executor methods the budget relies on that this version lacks."""
    return [
        name
        for name in _GRAPHQL_CORE_METHODS
        if not callable(getattr(StrawberryGraphQLCoreExecutionContext, name, None))
    ]


if _missing := missing_executor_methods():
    logger.error(
        "graphql-core's Executor has no %s: the execution budget cannot count or yield on "
        "graphql-core's path; pin graphql-core to the tested range.",
        ", ".join(_missing),
    )

_DEFAULT_LIMITS = Limits()
# Lists longer than this (any list while a yield is due) are completed by
# _complete_long_list, which can yield midway.
_LONG_LIST = 64


class BudgetedExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor class with a budget per operation; pass it as
    `execution_context_class`. The budget's limits are the schema's `execution_limits`."""

    budget: ExecutionBudget

    @property
    def limits(self) -> Limits:
        """The Strawberry schema's `execution_limits`, else the defaults."""
        limits = getattr(strawberry_schema_of(self.schema), "execution_limits", None)
        return limits if isinstance(limits, Limits) else _DEFAULT_LIMITS

    def build_per_event_executor(self, payload: Any) -> Any:
        # A subscription's event: graphql-core's copy, with memos of its own (gateway.compat).
        executor = super().build_per_event_executor(payload)
        forget_event_caches(executor)
        return executor

    def execute_operation(self, serially: bool | None = None) -> Any:
        mutation = self.operation.operation is OperationType.MUTATION
        budget = self.budget = ExecutionBudget(
            max_execution_ms=self.limits.max_execution_ms,
            max_values=self.limits.max_response_values,
            interruptible=not mutation,
        )
        set_current_budget(budget)
        try:
            result = self.run_operation(serially)
        except BudgetExceeded as exceeded:
            set_current_budget(None)
            return _refused(exceeded)
        except BaseException:
            set_current_budget(None)
            raise
        if self.is_awaitable(result):
            return self._within_budget(result)
        set_current_budget(None)
        return self._checked(result)

    def run_operation(self, serially: bool | None) -> Any:
        """The operation's result (or an awaitable of it), before the budget's verdict."""
        self.budget.checkpoint_every(YIELD_EVERY_ON_GRAPHQL_CORE)
        return super().execute_operation(serially)

    async def _within_budget(self, result: Awaitable[Any]) -> Any:
        budget = self.budget
        try:
            if not budget.interruptible:
                response = await result
            else:
                scope = asyncio.timeout(max(budget.remaining(), 0))
                try:
                    async with scope:
                        response = await result
                except TimeoutError:
                    if not scope.expired():
                        raise  # someone else's timeout, not the deadline
                    return _refused(budget.exceed(OperationTimeout(budget.timeout_message())))
        except BudgetExceeded as exceeded:
            return _refused(exceeded)
        finally:
            set_current_budget(None)
        return self._checked(response)

    def _checked(self, response: Any) -> Any:
        # On graphql-core's path the budget's error became a field error on its way up.
        exceeded = self.budget.exceeded
        return response if exceeded is None else _refused(exceeded)

    # graphql-core's path: count each object's fields as they are executed; a long list
    # lets the event loop run once a checkpoint has passed.

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> Any:
        self.budget.spend(len(grouped_field_set))
        return super().execute_fields(
            parent_type, source_value, path, grouped_field_set, position_context
        )

    def execute_fields_serially(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> Any:
        self.budget.spend(len(grouped_field_set))
        return super().execute_fields_serially(
            parent_type, source_value, path, grouped_field_set, position_context
        )

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        if path.prev is None and not self.budget.interruptible:  # a root mutation field
            self.budget.before_mutation_field(str(path.key))
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )

    def complete_iterable_value(
        self,
        item_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        items: Iterable[Any],
        position_context: Any,
    ) -> Any:
        budget = self.budget
        if (
            type(items) is not list
            or not budget.can_yield  # execute_sync: the answer must stay synchronous
            or (len(items) <= _LONG_LIST and not budget.yield_due)
        ):
            return super().complete_iterable_value(
                item_type, field_details_list, info, path, items, position_context
            )
        return self._complete_long_list(
            item_type, field_details_list, info, path, items, position_context
        )

    async def _complete_long_list(
        self,
        item_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        items: list[Any],
        position_context: Any,
    ) -> list[Any]:
        """graphql-core's completion of `items`, one item after the other, letting the event
        loop run whenever a yield is due (ExecutionBudget.yield_due). Loads made by items
        on either side of a yield land in different batches: a long list on this path costs
        a few more statements rather than holding every other request up."""
        completed: list[Any] = []
        awaiting: list[int] = []  # positions in `completed` still to be awaited
        try:
            for index, item in enumerate(items):
                # Again if another branch made one due meanwhile: a bare yield, not a wait.
                while self.budget.yield_due:  # noqa: ASYNC110
                    await asyncio.sleep(0)
                item_path = path.add_key(index, None)
                if self.is_awaitable(item):
                    completed.append(
                        self.complete_awaitable_list_item_value(
                            item, item_type, field_details_list, info, item_path, position_context
                        )
                    )
                    awaiting.append(index)
                elif self.complete_list_item_value(
                    item,
                    completed,
                    item_type,
                    field_details_list,
                    info,
                    item_path,
                    position_context,
                ):
                    awaiting.append(index)
        except BaseException:
            if awaiting:  # started, so settle them, as graphql-core does
                self.settle_in_background([completed[index] for index in awaiting])
            raise
        if awaiting:
            settled = await gather_with_cancel(*(completed[index] for index in awaiting))
            for index, value in zip(awaiting, settled, strict=True):
                completed[index] = value
        return completed


def _refused(exceeded: BudgetExceeded) -> ExecutionResult:
    """The operation's answer once its budget is exceeded: that error alone, no data."""
    return ExecutionResult(data=None, errors=[GraphQLError(str(exceeded), original_error=exceeded)])
