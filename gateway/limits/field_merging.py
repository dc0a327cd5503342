"""BoundedFieldMerging: graphql-core's field-merging rule with a small budget per document.

OverlappingFieldsCanBeMergedRule compares every pair of fields that share a response name,
so its work grows with the square of a selection's size: 85 distinct `user(id: 1) { ... }`
(2.9 KB, nothing for deduplicate_selections to drop) cost 179,617 Python calls, 2.5 times
what all the rules spend on a valid 5 KB document. graphql-core 3.3 meters that work in
"complexity units" (a field comparison is two) and aborts past 500,000; this rule gives each
document MERGE_BUDGET units instead and answers a document that needs more with
VALIDATION_TOO_COMPLEX. The README's, the benchmark's and GraphiQL's introspection queries
need 0 units; 20 Relay-style fragments spread on one type, each selecting the same 11
fields, need 7,450.

This module is the one place that touches the rule's internals (its `rule_context`, and
the name of the budget graphql-core spends); `merging_budget_supported()` checks at startup
that they still mean what we think, and without them the rule is graphql-core's own, with
a warning in the log.

    rules = with_bounded_field_merging(execution_context.validation_rules)
    work = merge_work(schema, document)  # the units a document needs, or MERGE_BUDGET + 1
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import cache
from typing import Any

from graphql import DocumentNode, GraphQLError, GraphQLSchema, validate
from graphql.validation import ASTValidationRule, OverlappingFieldsCanBeMergedRule
from graphql.validation.rules import overlapping_fields_can_be_merged as _graphql_rule

__all__ = [
    "MERGE_BUDGET",
    "MERGE_REFUSAL_CODE",
    "BoundedFieldMerging",
    "merge_work",
    "merging_budget_supported",
    "with_bounded_field_merging",
]

logger = logging.getLogger("gateway.graphql.text_input")

# Units of graphql-core's complexity budget one document may spend merging fields: about
# 5,000 field comparisons, some 20,000 Python calls (a valid 5 KB document costs 77,000 in
# all the rules), 50 times less than graphql-core's own budget.
MERGE_BUDGET = 10_000
MERGE_REFUSAL_CODE = "VALIDATION_TOO_COMPLEX"
_BUDGET_ATTRIBUTE = "remaining_complexity_budget"


@cache
def merging_budget_supported() -> bool:
    """Whether graphql-core's rule meters its work the way BoundedFieldMerging relies on;
    logs a warning, once, when it does not (the rule is then graphql-core's, unbounded)."""
    rule_context = getattr(_graphql_rule, "RuleContext", None)
    supported = (
        rule_context is not None
        and _BUDGET_ATTRIBUTE in getattr(rule_context, "__slots__", ())
        and callable(getattr(_graphql_rule, "spend_complexity_budget", None))
    )
    if not supported:
        logger.warning(
            "graphql-core's OverlappingFieldsCanBeMergedRule has no complexity budget in this "
            "version; field merging is not bounded per document (install graphql-core 3.3)."
        )
    return supported


class BoundedFieldMerging(OverlappingFieldsCanBeMergedRule):
    """OverlappingFieldsCanBeMergedRule, refusing a document past MERGE_BUDGET units.

    `spent` is the units used so far (read it after validation to count the work).
    """

    budget = MERGE_BUDGET

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        if merging_budget_supported():
            setattr(self.rule_context, _BUDGET_ATTRIBUTE, self.budget)

    @property
    def spent(self) -> int:
        """Units of the budget used so far on this document."""
        if not merging_budget_supported():
            return 0
        remaining: int = getattr(self.rule_context, _BUDGET_ATTRIBUTE)
        return self.budget - remaining

    def enter_selection_set(self, *args: Any) -> None:
        try:
            super().enter_selection_set(*args)
        except GraphQLError as error:
            if self.spent <= self.budget:
                raise  # graphql-core's own abort (error limit, recursion)
            raise _refusal() from error


def _refusal() -> GraphQLError:
    # validate() catches ValidationAbortedError and returns it among the errors: the
    # refusal keeps its code through ErrorCodes, as the operation limits' errors do.
    from graphql.validation.validate import ValidationAbortedError

    return ValidationAbortedError(
        "Checking that this operation's fields can be merged takes too much work: it "
        "repeats the same response names too often. Select each field once per selection "
        "set, or use aliases.",
        extensions={"code": MERGE_REFUSAL_CODE},
    )


def with_bounded_field_merging(
    rules: Sequence[type[ASTValidationRule]],
) -> tuple[type[ASTValidationRule], ...]:
    """`rules` with graphql-core's field-merging rule replaced by BoundedFieldMerging (the
    same tuple for the same rules: it is part of the validation cache's keys)."""
    return _bounded(tuple(rules))


@cache
def _bounded(rules: tuple[type[ASTValidationRule], ...]) -> tuple[type[ASTValidationRule], ...]:
    return tuple(
        BoundedFieldMerging if rule is OverlappingFieldsCanBeMergedRule else rule for rule in rules
    )


def merge_work(schema: GraphQLSchema, document: DocumentNode) -> int:
    """The budget units field merging spends on `document`: at most MERGE_BUDGET + 1 (the
    rule stops there). Runs that rule alone, so the count is deterministic."""
    spent: list[int] = []

    class Counting(BoundedFieldMerging):
        def leave_document(self, *_args: Any) -> None:
            spent.append(self.spent)

    errors = validate(schema, document, [Counting])
    if any((e.extensions or {}).get("code") == MERGE_REFUSAL_CODE for e in errors):
        return MERGE_BUDGET + 1
    return spent[0] if spent else 0
