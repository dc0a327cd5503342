"""ExecutionBudget: what one operation may spend, and the errors that say it spent too much.

    budget = ExecutionBudget(max_execution_ms=5000, max_values=10_000)
    if budget.spend(count * len(fields)):  # True from a checkpoint on: time to yield
        await asyncio.sleep(0)

`spend` counts the values of the answer (one per field of each object) and raises
ResponseTooLarge past `max_values`; every YIELD_EVERY values it also reads the clock and
raises OperationTimeout past the deadline, and makes a yield due: every branch of the
operation that works on in this iteration of the event loop lets the loop run first.
Between two of those checkpoints it costs an addition and a comparison per level, so the
fast path stays fast. The executors (gateway/execution/budgeted.py) turn either error into
the operation's only error; `charge_rows` lets the data layer refuse rows that could not fit
before it fetches a page of them (gateway/graphql/batching.py: parents x `first`) or builds an
object per row (gateway/graphql/row_objects.py).

Mutations are not interrupted by the clock: a mutation field that has started runs to its
end (a cancelled COMMIT could report failure for something that committed); the deadline is
checked before each root mutation field starts (`before_mutation_field`).
"""

from __future__ import annotations

import asyncio
import time
from contextvars import ContextVar

from gateway.graphql.errors import GatewayError

__all__ = [
    "YIELD_EVERY",
    "YIELD_EVERY_ON_GRAPHQL_CORE",
    "BudgetExceeded",
    "ExecutionBudget",
    "OperationTimeout",
    "ResponseTooLarge",
    "charge_rows",
    "current_budget",
]

# Values completed between two checkpoints (clock read, event loop let run). The planned
# executor completes a value in well under 1 µs, so a checkpoint comes every ~1 ms of work;
# graphql-core's own path takes 10-50 times longer a value, and checkpoints more often.
YIELD_EVERY = 2048
YIELD_EVERY_ON_GRAPHQL_CORE = 128

_CURRENT: ContextVar[ExecutionBudget | None] = ContextVar("gateway_execution_budget", default=None)


class BudgetExceeded(GatewayError):
    """Raised when an operation spends more than its ExecutionBudget allows."""


class OperationTimeout(BudgetExceeded):
    """Raised when an operation runs past its deadline (`Limits.max_execution_ms`)."""

    code = "OPERATION_TIMEOUT"


class ResponseTooLarge(BudgetExceeded):
    """Raised when an answer would hold more values (`Limits.max_response_values`) or
    bytes (`Limits.max_response_bytes`) than allowed."""

    code = "RESPONSE_TOO_LARGE"


class ExecutionBudget:
    """The deadline and the value count of one operation, from the start of its execution.

    `interruptible=False` (mutations): checkpoints count values but never read the clock.
    """

    __slots__ = (
        "can_yield",
        "deadline",
        "exceeded",
        "interruptible",
        "max_execution_ms",
        "max_values",
        "next_checkpoint",
        "started_fields",
        "values",
        "yield_due",
        "yield_every",
    )

    def __init__(
        self,
        *,
        max_execution_ms: int,
        max_values: int,
        interruptible: bool = True,
        yield_every: int = YIELD_EVERY,
    ) -> None:
        self.max_execution_ms = max_execution_ms
        self.yield_every = yield_every
        self.max_values = max_values
        self.interruptible = interruptible
        self.deadline = time.monotonic() + max_execution_ms / 1000
        self.values = 0
        self.next_checkpoint = min(yield_every, max_values + 1)
        self.exceeded: BudgetExceeded | None = None
        self.started_fields: list[str] = []  # root mutation fields, in the order they started
        # True from a checkpoint to the next iteration of the event loop: until then, every
        # branch of the operation that goes on working should yield first.
        self.yield_due = False
        self.can_yield = _loop_running()  # False under execute_sync: nothing to yield to

    def spend(self, values: int) -> bool:
        """Count `values` more; True while a yield is due (see `yield_due`).

        Raises ResponseTooLarge past max_values, OperationTimeout past the deadline, and the
        same error again once the budget is exceeded.
        """
        self.values += values
        if self.values < self.next_checkpoint:
            return self.yield_due
        if self.exceeded is not None:
            raise self.exceeded
        if self.values > self.max_values:
            raise self.exceed(ResponseTooLarge(self._too_many_values()))
        self.next_checkpoint = min(self.values + self.yield_every, self.max_values + 1)
        if self.interruptible:
            self.check_time()
        self._due()
        return True

    def _due(self) -> None:
        """A yield is due in every branch of the operation that runs on in this iteration of
        the event loop (concurrent branches each run until they yield, so one yielding is
        not enough); the next iteration starts by clearing it."""
        if self.can_yield and not self.yield_due:
            self.yield_due = True
            asyncio.get_running_loop().call_soon(self._clear_yield)

    def _clear_yield(self) -> None:
        self.yield_due = False

    def checkpoint_every(self, values: int) -> None:
        """Checkpoints every `values` values from now on."""
        self.yield_every = values
        self.next_checkpoint = min(self.next_checkpoint, self.values + values, self.max_values + 1)

    def charge_rows(self, rows: int) -> None:
        """Refuse `rows` (fetched, or about to be) for the answer when they could not fit
        in it: each becomes at least one value."""
        if self.values + rows > self.max_values:
            raise self.exceed(
                ResponseTooLarge(
                    f"The answer could hold more than {self.max_values} values ({rows} rows "
                    "for one list); ask for smaller pages or fewer nested lists."
                    + self._mutation_note()
                )
            )

    def check_time(self) -> None:
        """Raise OperationTimeout if the deadline has passed."""
        if time.monotonic() >= self.deadline:
            raise self.exceed(OperationTimeout(self.timeout_message()))

    def remaining(self) -> float:
        """Seconds left until the deadline (0 or less: none)."""
        return self.deadline - time.monotonic()

    def before_mutation_field(self, response_name: str) -> None:
        """Check the deadline before a root mutation field starts; record that it did."""
        if self.started_fields and time.monotonic() >= self.deadline:
            ran = ", ".join(f"`{name}`" for name in self.started_fields)
            raise self.exceed(
                OperationTimeout(
                    f"The operation ran past its {self.max_execution_ms} ms budget before "
                    f"`{response_name}` started: it and the fields after it did not run. "
                    f"{ran} ran to the end; their changes are made."
                )
            )
        self.started_fields.append(response_name)

    def exceed(self, error: BudgetExceeded) -> BudgetExceeded:
        """Record `error` as the operation's outcome (the first one wins) and return it;
        every later checkpoint raises it."""
        if self.exceeded is None:
            self.exceeded = error
        self.next_checkpoint = 0
        return self.exceeded

    def timeout_message(self) -> str:
        return (
            f"The operation ran longer than its {self.max_execution_ms} ms budget and was "
            "stopped; ask for less (smaller pages, fewer nested lists)."
        )

    def _too_many_values(self) -> str:
        return (
            f"The answer would hold more than {self.max_values} values; ask for less "
            "(smaller pages, fewer nested lists)." + self._mutation_note()
        )

    def _mutation_note(self) -> str:
        # A mutation's answer is refused after its fields ran: say so, or a client retries.
        if not self.started_fields:
            return ""
        return " The mutation ran and its changes are made; only its answer is not sent."


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def current_budget() -> ExecutionBudget | None:
    """The budget of the operation running in this context, if any."""
    return _CURRENT.get()


def set_current_budget(budget: ExecutionBudget | None) -> None:
    """Make `budget` the one `current_budget` returns here (None: no operation runs)."""
    _CURRENT.set(budget)


def charge_rows(rows: int) -> None:
    """Charge `rows` fetched for the running operation's answer (see ExecutionBudget)."""
    budget = _CURRENT.get()
    if budget is not None:
        budget.charge_rows(rows)
