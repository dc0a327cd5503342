"""Query execution from a per-request plan, level by level (see executor.py)."""

from gateway.execution.executor import PlannedExecutor

__all__ = ["PlannedExecutor"]
