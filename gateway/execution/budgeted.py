"""BudgetedExecutor: Strawberry's executor with an ExecutionBudget (gateway.budget) per operation.

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
object's fields when it executes them; it cannot let the event loop run mid-completion.
PlannedExecutor (executor.py) counts a level at a time and yields at checkpoints.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from graphql import ExecutionResult, GraphQLError, GraphQLObjectType, OperationType
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from gateway.budget import BudgetExceeded, ExecutionBudget, OperationTimeout, set_current_budget
from gateway.limits import Limits

__all__ = ["BudgetedExecutor"]

_DEFAULT_LIMITS = Limits()


class BudgetedExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor class with a budget per operation; pass it as
    `execution_context_class`. The budget's limits are the schema's `execution_limits`."""

    budget: ExecutionBudget

    @property
    def limits(self) -> Limits:
        """The Strawberry schema's `execution_limits`, else the defaults."""
        limits = getattr(getattr(self.schema, "_strawberry_schema", None), "execution_limits", None)
        return limits if isinstance(limits, Limits) else _DEFAULT_LIMITS

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

    # graphql-core's path: count each object's fields as they are executed.

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


def _refused(exceeded: BudgetExceeded) -> ExecutionResult:
    """The operation's answer once its budget is exceeded: that error alone, no data."""
    return ExecutionResult(data=None, errors=[GraphQLError(str(exceeded), original_error=exceeded)])
