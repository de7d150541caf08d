"""Retrieval evaluation: run judged queries against the index and score them with ir-measures.

Queries: TSV with a header and columns ``query_id``, ``query`` (or BEIR ``queries.jsonl`` with
``_id``, ``text``). Judgments (qrels): TSV with a header and columns query id, document key, grade
(the hub's ``query_id  file  grade`` or BEIR's ``query-id  corpus-id  score``). A document key is
matched to indexed documents by the file name at the end of their URLs (as for classification
gold files); records of a ``jsonl`` source match on their record ``_id`` (the URL fragment).

Measures (computed by ir-measures / pytrec_eval, the TREC tools): nDCG@10 with graded gains
(Järvelin & Kekäläinen 2002; linear gain as in trec_eval and BEIR) and recall@100. Queries without
any judged relevant document are left out of the averages, as trec_eval does. Each average comes
with its 95% bootstrap interval over queries, and modes are compared query by query (mean
difference, its interval and the paired randomization test's p-value: :mod:`core.stats`), so a
difference on a small query set can be told from noise.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlsplit

import ir_measures
from ir_measures import R, nDCG

from classify.evaluation import file_key
from core.stats import mean_interval, paired_comparison
from index.backend import SearchIndex
from index.query import MAX_QUERY_CHARS, SearchQuery

MEASURES = {"ndcg@10": nDCG @ 10, "recall@100": R @ 100}
DEPTH = 100
log = logging.getLogger(__name__)


class JudgmentsError(ValueError):
    """A queries or qrels file cannot be used."""


def document_key(url: str) -> str:
    """The key qrels use for a document: the percent-decoded URL fragment for a record of a jsonl
    source (``file:///.../corpus.jsonl#<_id>``, see :mod:`crawl.jsonl`), else the file name at the
    end of the URL or path."""
    fragment = unquote(urlsplit(url).fragment) if "#" in url else ""
    return fragment or file_key(url)


MAX_GRADE = 2**31 - 1  # pytrec_eval keeps relevance grades in a C int


def _text(path: Path) -> str:
    """The file's text (UTF-8, a byte-order mark dropped); JudgmentsError when missing or not UTF-8."""
    if not path.is_file():
        raise JudgmentsError(f"{path} does not exist")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise JudgmentsError(f"{path} is not UTF-8 text (byte {exc.start}: {exc.reason}); save it as UTF-8") from None


QUERY_ID_HEADERS = {"query_id", "query-id", "query id", "qid", "id", "_id", "topic", "topic_id"}
QUERY_TEXT_HEADERS = {"query", "text", "query_text", "query-text", "question", "title", "topic", "description"}
"""The first row of a queries TSV is its header when its first cell is one of ``QUERY_ID_HEADERS``
and its second one of ``QUERY_TEXT_HEADERS`` (compared case-insensitively): ``id  strasse report``
is a query."""
_GRADE_HEADER = re.compile(r"[A-Za-z][A-Za-z _-]*")  # "grade", "score", "relevance": not "1.0" or ""


def _queries_header(row: list[str]) -> bool:
    return (len(row) >= 2 and row[0].strip().casefold() in QUERY_ID_HEADERS
            and row[1].strip().casefold() in QUERY_TEXT_HEADERS)


def _qrels_header(row: list[str]) -> bool:
    return len(row) >= 3 and _GRADE_HEADER.fullmatch(row[2].strip()) is not None


def _rows(path: Path, is_header: Callable[[list[str]], bool]) -> list[tuple[int, list[str]]]:
    """The data rows of a TSV as ``(line number, cells)``: blank rows left out, and the first row
    too when ``is_header`` says it is a header (a file without one loses no judgment)."""
    try:  # TSV has no quoting: '"a phrase"' is a query
        rows = [(number, row) for number, row in enumerate(
                    csv.reader(io.StringIO(_text(path), newline=""), delimiter="\t", quoting=csv.QUOTE_NONE), start=1)
                if row and any(cell.strip() for cell in row)]
    except csv.Error as exc:  # e.g. a field over csv's size limit (131,072 characters)
        raise JudgmentsError(f"{path}: not a readable TSV ({exc})") from None
    if rows and is_header(rows[0][1]):
        rows = rows[1:]
    if not rows:
        raise JudgmentsError(f"{path}: no data rows")
    return rows


def read_queries(path: Path) -> dict[str, str]:
    """Query id -> text from a TSV (``query_id``, ``query``; the first row is a header when it
    names the columns, see :data:`QUERY_TEXT_HEADERS`, else a query) or a JSON-lines file
    (``_id``, ``text``).

    Raises JudgmentsError on a missing file, a wrong shape, an empty query or query id, or a
    query id given twice (which of the two texts was meant cannot be known)."""
    queries: dict[str, str] = {}
    lines: dict[str, int] = {}

    def add(number: int, query_id: str, text: str) -> None:
        if not query_id:
            raise JudgmentsError(f"{path} line {number}: the query id is empty")
        if query_id in lines:
            raise JudgmentsError(f"{path} line {number}: query id {query_id!r} was already given on line {lines[query_id]}")
        queries[query_id], lines[query_id] = text, number

    if path.suffix == ".jsonl":
        for number, line in enumerate(_text(path).splitlines(), start=1):
            if line.strip():
                try:
                    record = json.loads(line)
                    query_id, text = str(record["_id"]).strip(), str(record["text"])
                except (json.JSONDecodeError, KeyError, TypeError) as exc:
                    raise JudgmentsError(f"{path} line {number}: expected {{\"_id\", \"text\"}} ({exc})") from None
                add(number, query_id, text)
    else:
        for number, row in _rows(path, _queries_header):
            if len(row) < 2 or not row[1].strip():
                raise JudgmentsError(f"{path} line {number}: expected query_id<TAB>query")
            if len(row) > 2 and any(cell.strip() for cell in row[2:]):
                raise JudgmentsError(f"{path} line {number}: {len(row)} tab-separated fields, expected 2 "
                                     "(query_id<TAB>query); a query may not hold a tab")
            add(number, row[0].strip(), row[1].strip())
    if not queries:
        raise JudgmentsError(f"{path}: no queries")
    return queries


def read_qrels(path: Path) -> list[ir_measures.Qrel]:
    """Judgments from a TSV: query id, document (a file name or path, or a record id, kept as
    written: :func:`score_run` matches it to the run's keys), grade. The first row is a header
    when its third cell is a word (``query_id  file  grade``), else a judgment (so ``1.0`` there is
    refused like anywhere else; TREC's four-column form is not read).

    Raises JudgmentsError on a missing file, fewer than 3 columns, an empty query id or document,
    a grade that is not an integer (or beyond a C int), or a (query, document) pair judged twice."""
    qrels = []
    lines: dict[tuple[str, str], int] = {}
    for number, row in _rows(path, _qrels_header):
        if len(row) < 3 or not row[0].strip() or not row[1].strip():
            raise JudgmentsError(f"{path} line {number}: expected query_id<TAB>document<TAB>grade")
        pair = (row[0].strip(), row[1].strip())
        if pair in lines:
            raise JudgmentsError(f"{path} line {number}: query {pair[0]!r} already judges {pair[1]!r} on line "
                                 f"{lines[pair]}")
        lines[pair] = number
        try:
            grade = int(row[2])
        except ValueError:
            raise JudgmentsError(f"{path} line {number}: grade {row[2]!r} is not an integer") from None
        if abs(grade) > MAX_GRADE:
            raise JudgmentsError(f"{path} line {number}: grade {grade} is out of range (at most {MAX_GRADE})")
        qrels.append(ir_measures.Qrel(*pair, grade))
    return qrels


def fit_query(text: str, limit: int = MAX_QUERY_CHARS) -> str:
    """``text`` cut to at most ``limit`` characters at the last whitespace before the limit (at the
    limit itself when there is none), so a test collection's long queries (CISI has 16 of over 1,000
    characters) are run on their opening instead of being refused by ``SearchQuery``."""
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit + 1)
    return text[:cut if cut > 0 else limit]


def run_queries(index: SearchIndex, embedder, queries: dict[str, str], mode: str,
                depth: int = DEPTH) -> list[ir_measures.ScoredDoc]:
    """The top ``depth`` documents of each query in ``mode``, as scored document keys. Ranks are
    kept by giving decreasing scores (the index's own scores are not comparable across modes).
    Queries longer than ``SearchQuery`` accepts are cut by :func:`fit_query`. Two retrieved
    documents with the same key (the same file name on two sites) count once per query, at the
    better rank (a second entry would replace the first in pytrec_eval, which keeps one score per
    document), and are named in a logged warning."""
    keys: dict[str, str] = {}
    owners: dict[str, set[str]] = {}
    run = []
    for query_id, text in queries.items():
        text = fit_query(text)
        vector = embedder.encode([text], "query")[0] if mode != "bm25" else None
        try:
            hits = index.search(SearchQuery(text=text, mode=mode, limit=depth), vector).hits
        except ValueError:
            hits = []  # a query the index refuses scores as finding nothing
        seen: set[str] = set()
        for rank, hit in enumerate(hits):
            key = keys.get(hit.id)
            if key is None:
                key = keys[hit.id] = document_key(hit.url)
            owners.setdefault(key, set()).add(hit.id)
            if key in seen:  # another document with the same file name ranked higher: it holds the key
                continue
            seen.add(key)
            run.append(ir_measures.ScoredDoc(query_id, key, float(depth - rank)))
    shared = sorted(key for key, ids in owners.items() if len(ids) > 1)
    if shared:
        log.warning("%d document keys are shared by more than one retrieved document (%s): a judgment on such "
                    "a key credits the best-ranked of them; judge by record id to tell them apart",
                    len(shared), ", ".join(shared[:5]))
    return run


def _keyed(qrels: list[ir_measures.Qrel], run: list[ir_measures.ScoredDoc]) -> list[ir_measures.Qrel]:
    """The judgments of judged queries (one relevant judgment or more) with each document written
    as the run's key: the judgment's own text when the run has it (a record id, even one holding
    "/"), else the file name at the end of its path ("docs/a.pdf" judges the document keyed "a.pdf")."""
    judged = {q.query_id for q in qrels if q.relevance > 0}
    found = {r.doc_id for r in run}
    return [q._replace(doc_id=q.doc_id if q.doc_id in found else document_key(q.doc_id))
            for q in qrels if q.query_id in judged]


def relevant_retrieved(qrels: list[ir_measures.Qrel], run: list[ir_measures.ScoredDoc]) -> int:
    """How many (query, relevant document) judgments the run retrieved at any depth, documents
    matched as :func:`score_run` matches them. 0 over a whole query set usually means the judged
    documents are not in the index (or are named in a way that matches no document)."""
    relevant = {(q.query_id, q.doc_id) for q in _keyed(qrels, run) if q.relevance > 0}
    return len(relevant & {(r.query_id, r.doc_id) for r in run})


def score_run(qrels: list[ir_measures.Qrel], run: list[ir_measures.ScoredDoc]) -> dict:
    """``{"ndcg@10", "recall@100", "queries", "per_query": {id: {"ndcg@10", "recall@100"}}}`` over
    the queries that have at least one relevant judgment."""
    judged = {q.query_id for q in qrels if q.relevance > 0}
    qrels = _keyed(qrels, run)
    run = [r for r in run if r.query_id in judged]
    per_query: dict[str, dict[str, float]] = {q: {name: 0.0 for name in MEASURES} for q in sorted(judged)}
    names = {measure: name for name, measure in MEASURES.items()}
    for metric in ir_measures.iter_calc(list(MEASURES.values()), qrels, run):
        per_query[metric.query_id][names[metric.measure]] = round(metric.value, 4)
    averages = {name: round(sum(p[name] for p in per_query.values()) / len(per_query), 4) if per_query else 0.0
                for name in MEASURES}
    return averages | {"queries": len(per_query), "per_query": per_query}


def add_uncertainty(report: dict[str, dict]) -> dict[str, dict]:
    """``report`` (mode -> :func:`score_run` result, all over the same queries) with, per mode,
    ``"<measure>_ci95": [low, high]`` (bootstrap over queries, :func:`core.stats.mean_interval`)
    and ``"vs": {EARLIER_MODE: {"ndcg@10_difference", "ci95", "p_value"}}`` comparing its nDCG@10
    with each mode before it in ``report`` (:func:`core.stats.paired_comparison`: mean of this
    mode's per-query nDCG@10 minus the other's). A new dict; ``report`` is not changed. Raises
    ValueError when two modes were scored on different queries."""
    out: dict[str, dict] = {}
    for position, (mode, figures) in enumerate(report.items()):
        per_query = figures["per_query"]
        entry = dict(figures)
        if per_query:
            for measure in MEASURES:
                entry[f"{measure}_ci95"] = list(mean_interval([q[measure] for q in per_query.values()]))
        comparisons = {}
        for other, other_figures in list(report.items())[:position]:
            if set(other_figures["per_query"]) != set(per_query):
                raise ValueError(f"{mode} and {other} were scored on different queries")
            if not per_query:
                continue
            ids = sorted(per_query)
            compared = paired_comparison([per_query[q]["ndcg@10"] for q in ids],
                                         [other_figures["per_query"][q]["ndcg@10"] for q in ids])
            comparisons[other] = {"ndcg@10_difference": compared.difference, "ci95": list(compared.ci95),
                                  "p_value": compared.p_value}
        if comparisons:
            entry["vs"] = comparisons
        out[mode] = entry
    return out
