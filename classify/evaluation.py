"""Gold labels and multi-label metrics for ``evidence-hub eval classify`` and ``train-classifier``.

Gold file: CSV with columns ``file``, ``policy_areas``, ``themes`` (ids separated by ``;``; empty
means none applies) and optionally ``evidence_types``, ``doc_type``, ``language``, ``notes``. The
single-valued facets ``doc_type`` and ``language`` (empty: not judged) are scored with
:func:`score_facet`. A row
is matched to an indexed document by the file name at the end of ``file`` and of the document's
URLs (its source path or URL), e.g. ``docs/report.pdf`` matches ``http://host/files/report.pdf``.

Metrics are the usual multi-label ones (e.g. Sorower 2010, "A literature survey on algorithms for
multi-label learning"): per-label precision, recall, F1 and support (gold positives); micro
averages pool the counts of all labels; macro averages are the mean of the per-label F1 over
labels with support > 0 (a label nobody needs cannot be recalled). With ``intervals``, the micro
and macro F1 come with 95% percentile-bootstrap intervals over documents (:mod:`core.stats`): on a
gold set of tens of documents, where a label may have one or two, they are wide.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel

from core.stats import bootstrap_intervals

LABEL_COLUMNS = ("themes", "policy_areas", "evidence_types")
FACET_COLUMNS = ("doc_type", "language")  # one value per document, set by rules (extractors), not the classifier


class GoldError(ValueError):
    """The gold file cannot be used (missing, wrong columns, unknown label ids)."""


@dataclass(frozen=True)
class GoldRow:
    """One labelled document: its file name key and the gold label ids per kind."""

    file: str
    labels: dict[str, frozenset[str]]
    facets: dict[str, str] = field(default_factory=dict)  # doc_type / language, lower-cased, when judged

    @property
    def key(self) -> str:
        """The file name used for matching."""
        return file_key(self.file)


def file_key(path_or_url: str) -> str:
    """The last path segment of a path or URL, percent-decoded (``''`` when there is none)."""
    path = urlsplit(path_or_url).path if "://" in path_or_url else path_or_url
    return unquote(PurePosixPath(path.replace("\\", "/")).name)


def read_gold(path: Path, known_ids: dict[str, set[str]] | None = None) -> list[GoldRow]:
    """Read a gold CSV.

    Args:
        known_ids: per kind, the ids the taxonomy has; unknown ids are an error.
    Raises:
        GoldError: missing file, no ``file`` column or no label column, duplicate files, unknown ids.
    """
    if not path.is_file():
        raise GoldError(f"gold file {path} does not exist")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = set(reader.fieldnames or [])
        if "file" not in columns or not columns & set(LABEL_COLUMNS):
            raise GoldError(f"{path}: needs a 'file' column and at least one of {', '.join(LABEL_COLUMNS)}; "
                            f"found {sorted(columns)}")
        rows, seen = [], set()
        for number, record in enumerate(reader, start=2):
            name = (record.get("file") or "").strip()
            if not name:
                continue
            if file_key(name) in seen:
                raise GoldError(f"{path} line {number}: file name {file_key(name)!r} appears twice")
            seen.add(file_key(name))
            labels = {}
            for kind in LABEL_COLUMNS:
                if kind not in columns:
                    continue
                ids = frozenset(i.strip() for i in (record.get(kind) or "").split(";") if i.strip())
                if known_ids is not None and kind in known_ids and ids - known_ids[kind]:
                    raise GoldError(f"{path} line {number}: unknown {kind} ids {sorted(ids - known_ids[kind])}; "
                                    f"the taxonomy has {sorted(known_ids[kind])}")
                labels[kind] = ids
            facets = {facet: value.strip().lower() for facet in FACET_COLUMNS
                      if (value := record.get(facet) or "").strip()}
            rows.append(GoldRow(file=name, labels=labels, facets=facets))
    return rows


def match_gold(rows: list[GoldRow], documents: dict[str, list[str]]) -> tuple[dict[str, GoldRow], list[str]]:
    """Match gold rows to documents.

    Args:
        documents: document id -> the document's URLs / source paths.
    Returns:
        (document id -> gold row, file names of rows with no indexed document). A file name that
        several documents share goes to the first id in sorted order.
    """
    by_key: dict[str, str] = {}
    for doc_id in sorted(documents):
        for url in documents[doc_id]:
            by_key.setdefault(file_key(url), doc_id)
    matched, missing = {}, []
    for row in rows:
        doc_id = by_key.get(row.key)
        if doc_id is None:
            missing.append(row.file)
        else:
            matched[doc_id] = row
    return matched, missing


class LabelMetrics(BaseModel):
    """Precision, recall and F1 of one label, and its support (gold positives)."""

    precision: float
    recall: float
    f1: float
    support: int
    tp: int
    fp: int
    fn: int


class KindMetrics(BaseModel):
    """Micro and macro averages and per-label metrics of one label kind; ``micro_f1_ci95`` and
    ``macro_f1_ci95`` ([low, high], documents resampled) when scored with intervals."""

    micro_precision: float
    micro_recall: float
    micro_f1: float
    macro_f1: float
    documents: int
    per_label: dict[str, LabelMetrics]
    micro_f1_ci95: tuple[float, float] | None = None
    macro_f1_ci95: tuple[float, float] | None = None


def _ratio(a: int, b: int) -> float:
    return a / b if b else 0.0


def score_kind(gold: list[frozenset[str]], predicted: list[frozenset[str]], label_ids: list[str], *,
               intervals: bool = False) -> KindMetrics:
    """Multi-label metrics of ``predicted`` against ``gold`` (aligned lists, one set per document);
    with ``intervals``, also the 95% bootstrap intervals of micro and macro F1 over documents.

    Raises ValueError when the lists differ in length."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold rows but {len(predicted)} predictions")
    per_label, total = {}, [0, 0, 0]
    for label in label_ids:
        tp = sum(1 for g, p in zip(gold, predicted) if label in g and label in p)
        fp = sum(1 for g, p in zip(gold, predicted) if label not in g and label in p)
        fn = sum(1 for g, p in zip(gold, predicted) if label in g and label not in p)
        precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
        per_label[label] = LabelMetrics(precision=round(precision, 4), recall=round(recall, 4),
                                        f1=round(_ratio(2 * tp, 2 * tp + fp + fn), 4), support=tp + fn,
                                        tp=tp, fp=fp, fn=fn)
        total = [total[0] + tp, total[1] + fp, total[2] + fn]
    tp, fp, fn = total
    supported = [m.f1 for m in per_label.values() if m.support > 0]
    metrics = KindMetrics(micro_precision=round(_ratio(tp, tp + fp), 4), micro_recall=round(_ratio(tp, tp + fn), 4),
                          micro_f1=round(_ratio(2 * tp, 2 * tp + fp + fn), 4),
                          macro_f1=round(sum(supported) / len(supported), 4) if supported else 0.0,
                          documents=len(gold), per_label=per_label)
    if intervals and gold:
        def resampled(idx):
            again = score_kind([gold[i] for i in idx], [predicted[i] for i in idx], label_ids)
            return again.micro_f1, again.macro_f1

        micro, macro = bootstrap_intervals(len(gold), resampled)  # one set of resamples for both
        metrics = metrics.model_copy(update={"micro_f1_ci95": micro, "macro_f1_ci95": macro})
    return metrics


def score_facet(gold: list[str], predicted: list[str], *, intervals: bool = False) -> KindMetrics:
    """Metrics of a single-valued facet (``doc_type``, ``language``): each document has one gold
    and one predicted value (aligned lists), scored as one-label sets with :func:`score_kind` over
    every value either side uses, so per-value precision, recall and F1 read as for labels and
    micro-F1 (= micro precision = micro recall) is the accuracy.

    Raises ValueError when the lists differ in length."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold values but {len(predicted)} predictions")
    return score_kind([frozenset({g}) for g in gold], [frozenset({p}) for p in predicted],
                      sorted(set(gold) | set(predicted)), intervals=intervals)


def report_json(metrics: dict[str, KindMetrics], extra: dict | None = None) -> dict:
    """The ``--json`` shape: ``{kind: {"micro_f1", "macro_f1", "per_label": {id: {"precision",
    "recall", "f1", "support"}}, ...}}`` plus ``extra`` keys; ``micro_f1_ci95`` and
    ``macro_f1_ci95`` ([low, high]) where the metrics have intervals."""
    out = {kind: {"micro_f1": m.micro_f1, "macro_f1": m.macro_f1, "micro_precision": m.micro_precision,
                  "micro_recall": m.micro_recall, "documents": m.documents,
                  "per_label": {label: {"precision": v.precision, "recall": v.recall, "f1": v.f1,
                                        "support": v.support} for label, v in m.per_label.items()}}
           | {name: list(value) for name in ("micro_f1_ci95", "macro_f1_ci95")
              if (value := getattr(m, name)) is not None}
           for kind, m in metrics.items()}
    return out | (extra or {})
