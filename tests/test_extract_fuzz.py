"""Mutated real documents through the isolated extraction path (``ExtractionPool``, as the pipeline
runs it): every input gives an ExtractedDocument or an ExtractionError with a reason; nothing else
escapes a document's worker, and the pool goes on serving after a worker dies.

The seeds are the project's own documents (the demo site and the fault site's PDF and page); the
mutations are those of ``benchmarks/fuzz_extract.py`` (byte flips, truncation, splices, xref
damage, charset damage, huge attributes, deep nesting). Bounded and reproducible
(``derandomize=True``); the longer run is ``python benchmarks/fuzz_extract.py``.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from benchmarks.fuzz_extract import make_pool, mutated, project_seeds
from extractors.base import ExtractionError

EXAMPLES = 150


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    return project_seeds(tmp_path_factory.mktemp("demo-site"))


@pytest.fixture(scope="module")
def pool():
    pool = make_pool(timeout_s=60, memory_mb=1024, workers=2)
    yield pool
    pool.close()


def test_mutated_documents_fail_only_with_a_reason(seeds, pool):
    seen = {"extracted": 0, "failed": 0}

    @given(case=mutated(seeds))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case):
        description, _, name, data = case
        try:
            pool.result(pool.submit(data, url=f"fuzz://{name}"))
        except ExtractionError as exc:  # the only failure allowed, and it says why
            assert str(exc).strip(), f"empty reason for {description} of {name}"
            seen["failed"] += 1
        else:
            seen["extracted"] += 1

    check()
    assert seen["extracted"] and seen["failed"], seen  # the mutations reach both outcomes
    # after everything the fuzzer threw at it, the pool still extracts a good document
    good = next(s for s in seeds if s.kind == "pdf")
    assert pool.result(pool.submit(good.data, url="fuzz://good")).word_count > 20
