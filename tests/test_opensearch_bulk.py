"""Case 017: a ``_bulk`` answer of HTTP 200 with ``errors: true``. Only items rejected with 429
are retried (alone, with exponential back-off); mapping errors are reported with their reasons.

Runs without a cluster: the case's recorded response goes through the pure parser, and
``bulk_load`` talks to a stand-in client that answers with that recording.
"""

from __future__ import annotations

import json

import pytest
from opensearchpy.exceptions import TransportError

from index.opensearch import RETRY_STATUSES, BulkReport, bulk_load, classify_bulk_items

CASE = "017-opensearch-bulk-partial-failure"


@pytest.fixture()
def case(cases_dir):
    folder = cases_dir / CASE
    response = json.loads((folder / "recorded_bulk_response.json").read_text())
    lines = [json.loads(line) for line in (folder / "bulk_body.ndjson").read_text().splitlines() if line.strip()]
    actions = [{"_index": meta["index"]["_index"], "_id": meta["index"]["_id"], "_source": source}
               for meta, source in zip(lines[::2], lines[1::2])]
    return response, actions


def test_recorded_response_only_the_429_item_is_retried(case):
    response, _ = case
    assert response["errors"] is True  # HTTP 200, yet items failed
    retry, failed = classify_bulk_items(response)
    assert [(e.id, e.status, e.error_type) for e in retry] == [("doc-3", 429, "es_rejected_execution_exception")]
    assert retry[0].position == 2
    assert [(e.id, e.status, e.error_type) for e in failed] == [
        ("doc-2", 400, "mapper_parsing_exception"),
        ("doc-4", 400, "mapper_parsing_exception"),
        ("doc-5", 400, "strict_dynamic_mapping_exception"),
    ]
    reasons = {e.id: e.message for e in failed}
    assert "failed to parse field [published_at] of type [date]" in reasons["doc-2"]
    assert "failed to parse field [word_count] of type [integer]" in reasons["doc-4"]
    assert "dynamic introduction of [lang]" in reasons["doc-5"]
    assert reasons["doc-5"].startswith("strict_dynamic_mapping_exception: ")


def test_classify_reads_item_statuses_not_only_the_errors_flag():
    response = {"errors": False, "items": [
        {"index": {"_id": "a", "status": 201}},
        {"create": {"_id": "b", "status": 409, "error": {"type": "version_conflict_engine_exception",
                                                          "reason": "[b]: version conflict"}}},
        {"delete": {"_id": "c", "status": 404, "result": "not_found"}},  # deleting a missing entry is fine
        {"update": {"_id": "d", "status": 503, "error": {"type": "unavailable_shards_exception", "reason": "x"}}},
    ]}
    retry, failed = classify_bulk_items(response)
    assert [e.id for e in retry] == ["d"] and 503 in RETRY_STATUSES
    assert [(e.id, e.status) for e in failed] == [("b", 409)]
    assert classify_bulk_items({"items": []}) == ([], [])


class RecordedClient:
    """Answers the first ``_bulk`` with the recorded response, then ``answers`` in order (default:
    every item created); keeps the ids sent in each call."""

    def __init__(self, first: dict, answers: list | None = None):
        self.first, self.answers, self.calls = first, list(answers or []), []

    def bulk(self, *, body: str, **kwargs):
        lines = [json.loads(line) for line in body.splitlines() if line]
        ids = [line["index"]["_id"] for line in lines if "index" in line]
        self.calls.append(ids)
        if len(self.calls) == 1:
            return self.first
        answer = self.answers.pop(0) if self.answers else None
        if isinstance(answer, Exception):
            raise answer
        status = answer or 201
        return {"errors": status >= 300, "items": [
            {"index": {"_id": i, "status": status, **({"error": {"type": "es_rejected_execution_exception",
                                                                  "reason": "queue full"}} if status >= 300 else {})}}
            for i in ids]}


def test_bulk_load_retries_doc3_alone_then_reports_indexed_2_failed_3(case):
    response, actions = case
    client, sleeps = RecordedClient(response), []
    report = bulk_load(client, actions, max_retries=3, initial_backoff=0.5, sleep=sleeps.append)
    assert client.calls == [["doc-1", "doc-2", "doc-3", "doc-4", "doc-5"], ["doc-3"]]
    assert isinstance(report, BulkReport) and not report.ok
    assert (report.succeeded, len(report.failed), report.retried) == (2, 3, 1)
    assert [(i, s) for i, s, _ in report.failed] == [("doc-2", 400), ("doc-4", 400), ("doc-5", 400)]
    assert "published_at" in report.failed[0][2] and "word_count" in report.failed[1][2]
    assert sleeps == [0.5]


def test_bulk_load_backs_off_exponentially_and_gives_up(case):
    response, actions = case
    client, sleeps = RecordedClient(response, answers=[429, 429, 429]), []
    report = bulk_load(client, actions, max_retries=3, initial_backoff=0.5, sleep=sleeps.append)
    assert client.calls[1:] == [["doc-3"]] * 3
    assert sleeps == [0.5, 1.0, 2.0]
    assert report.succeeded == 1 and report.retried == 3
    assert [(i, s) for i, s, _ in report.failed] == [("doc-2", 400), ("doc-4", 400), ("doc-5", 400), ("doc-3", 429)]
    assert "gave up after 3 retries" in report.failed[-1][2]


def test_bulk_load_whole_request_rejection_is_retried_then_succeeds(case):
    response, actions = case
    client = RecordedClient(response, answers=[TransportError(429, "es_rejected_execution_exception", "busy")])
    report = bulk_load(client, actions, max_retries=3, sleep=lambda s: None)
    assert client.calls[1:] == [["doc-3"], ["doc-3"]]
    assert (report.succeeded, len(report.failed), report.retried) == (2, 3, 2)


def test_bulk_load_batches_and_success_path():
    ok = {"errors": False, "items": []}

    class Client:
        def __init__(self):
            self.sizes = []

        def bulk(self, *, body, **kwargs):
            lines = [json.loads(line) for line in body.splitlines() if line]
            metas = [line for line in lines if "index" in line]
            self.sizes.append(len(metas))
            return {**ok, "items": [{"index": {"_id": m["index"]["_id"], "status": 201}} for m in metas]}

    client = Client()
    report = bulk_load(client, [{"_index": "x", "_id": str(i), "n": i} for i in range(7)], chunk_size=3)
    assert client.sizes == [3, 3, 1] and report.ok and report.succeeded == 7 and report.retried == 0
