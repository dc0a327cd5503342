"""The cache flood (benchmarks/cache_flood.py) runs end to end on a few hundred documents.

Its memory figures are not judged here (a short run may go either way): only that every
document is answered and the report and the samples are written.
"""

from __future__ import annotations

import json
from pathlib import Path

from graphql import parse

from benchmarks.cache_flood import flood_body, flood_document
from gateway.http.persisted import sha256_hex
from gateway.limits.rules import Limits
from tests.benchmark_cli import run_benchmark


def test_cache_flood_writes_report_and_samples_with_every_document_answered(
    database_url: str, tmp_path: Path
) -> None:
    run_benchmark(
        "benchmarks.cache_flood",
        *("--documents", "120", "--warmup", "40", "--concurrency", "2"),
        *("--output", str(tmp_path)),
        database_url=database_url,
    )

    flood = json.loads((tmp_path / "cache_flood.json").read_text())
    assert flood["valid"] is True
    assert (flood["answered"], flood["failures"]) == (120, 0)
    assert flood["document_tokens"] < Limits().max_tokens
    samples = flood["samples"]
    assert len(samples) >= 2
    assert all(sample["rss"] > 0 for sample in samples)
    assert [s["seconds"] for s in samples] == sorted(s["seconds"] for s in samples)
    assert flood["verdict"].startswith(("FLAT:", "NOT FLAT:"))

    report = (tmp_path / "cache_flood.md").read_text()
    assert "- Requests: 120 answered, 0 failed" in report
    assert "| after 40 documents (warm-up) |" in report
    assert f"**Verdict** {flood['verdict']}" in report


def test_flood_documents_are_distinct_and_under_the_limits() -> None:
    limits = Limits()
    documents = [flood_document(n) for n in range(50)]

    assert len(set(documents)) == len(documents)
    for document in documents:
        assert len(document) <= limits.max_query_length
        parse(document, max_tokens=limits.max_tokens)  # raises past the token limit
    body = flood_body(7)
    assert body["extensions"] == {
        "persistedQuery": {"version": 1, "sha256Hash": sha256_hex(flood_document(7))}
    }
