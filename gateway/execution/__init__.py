"""How an operation runs: a per-request plan, level by level, within its budget, and its caches."""
