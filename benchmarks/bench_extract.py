"""Extraction benchmark: prints figures, asserts nothing. A script, not a test.

    python benchmarks/bench_extract.py [--shared ../shared] [--subset N] [--skip-articles]
                                       [--skip-metadata] [--skip-pdf-speed]

(a) Article extraction: the scrapinghub article-extraction benchmark in
    ``../shared/corpus/article-extraction-benchmark`` — token-level precision, recall and F1
    (bag of ``\\w+`` tokens, casefolded, averaged over pages) against ``articleBody``, for the
    hub's HTML extractor and for plain ``trafilatura.extract`` in the same run, side by side;
    over all pages and over the even (tuning) and odd (held-out) halves of the sorted page ids.
(b) Metadata: on ``../shared/corpus/docs`` against ``manifest.csv`` (and the readability
    ``metadata-ground-truth/`` sidecars): title accuracy (``title_matches``) and date accuracy
    (the extracted date agrees at the truth's precision, year / year-month / day) where the
    truth is known.
(c) PDF speed: pages per second of the hub's PDF path as a ratio to plain pdfminer.six
    ``extract_text`` on the same files.

``--subset N`` takes every k-th item so that about N pages/documents are used (quick runs).
``--json PATH`` also writes the figures as flat JSON (see benchmarks/results_io.py): ``articles_
{hub,trafilatura}_{all,even,odd}_{precision,recall,f1,n}``, ``metadata_title_accuracy``,
``metadata_date_accuracy`` (and their counts), ``pdf_hub_pages_per_s``, ``pdf_plain_pages_per_s``,
``pdf_ratio``, peak memory.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import trafilatura  # noqa: E402
from pdfminer.high_level import extract_text  # noqa: E402

from extractors import ExtractionError, extract  # noqa: E402
from extractors.evaluation import title_matches, token_precision_recall_f1  # noqa: E402
from extractors.html import extract_html  # noqa: E402
from extractors.pdf import engines_agree  # noqa: E402

from benchmarks.results_io import JsonReport  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _every(items: list, subset: int | None) -> list:
    """About ``subset`` items spread evenly over ``items`` (all of them when ``subset`` is None or
    larger). Positions are ``floor(i * len / subset)``, not a fixed step: a step of 2 would take
    only the even (tuning) pages and leave the held-out half empty."""
    if not subset or subset >= len(items):
        return items
    return [items[i * len(items) // subset] for i in range(subset)]


def _mean(rows: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    if not rows:
        return (float("nan"),) * 3
    return tuple(statistics.fmean(col) for col in zip(*rows))  # type: ignore[return-value]


def bench_articles(bench_dir: Path, subset: int | None, report: JsonReport | None = None) -> dict:
    """Hub vs plain trafilatura on the article-extraction benchmark; prints a table, returns the
    mean F1 per ``(extractor, split)`` and records every mean in ``report`` when given."""
    truth = json.loads((bench_dir / "ground-truth.json").read_text(encoding="utf-8"))
    ids = _every(sorted(truth), subset)
    scores: dict[str, dict[str, list]] = {"hub": {"all": [], "even": [], "odd": []},
                                          "trafilatura": {"all": [], "even": [], "odd": []}}
    order = {page_id: i for i, page_id in enumerate(sorted(truth))}
    seconds = {"hub": 0.0, "trafilatura": 0.0}
    for page_id in ids:
        data = gzip.decompress((bench_dir / "html" / f"{page_id}.html.gz").read_bytes())
        expected = truth[page_id]["articleBody"]
        url = truth[page_id].get("url", "")
        half = "even" if order[page_id] % 2 == 0 else "odd"
        start = time.perf_counter()
        try:
            hub_text = extract_html(data, url=url).text
        except ExtractionError:
            hub_text = ""
        seconds["hub"] += time.perf_counter() - start
        start = time.perf_counter()
        plain_text = trafilatura.extract(data, url=url or None) or ""
        seconds["trafilatura"] += time.perf_counter() - start
        for name, text in (("hub", hub_text), ("trafilatura", plain_text)):
            prf = token_precision_recall_f1(text, expected)
            scores[name]["all"].append(prf)
            scores[name][half].append(prf)
    print(f"\n(a) article-extraction benchmark: {len(ids)} pages "
          f"(token-level precision / recall / F1 against articleBody, mean over pages)")
    print(f"{'extractor':<14}{'split':<10}{'n':>5}{'precision':>11}{'recall':>9}{'F1':>8}")
    result = {}
    for name in ("hub", "trafilatura"):
        for split in ("all", "even", "odd"):
            precision, recall, f1 = _mean(scores[name][split])
            result[(name, split)] = f1
            if report is not None:
                what = {"all": "all pages", "even": "even (tuning) half", "odd": "odd (held-out) half"}[split]
                for measure, value in (("precision", precision), ("recall", recall), ("f1", f1)):
                    report.add(f"articles_{name}_{split}_{measure}", value,
                               f"mean token {measure} of {name} vs articleBody, {what} (0-1)")
                report.add(f"articles_{name}_{split}_n", len(scores[name][split]), f"pages in the {what}")
            label = {"all": "all", "even": "even/tune", "odd": "odd/held"}[split]
            print(f"{name:<14}{label:<10}{len(scores[name][split]):>5}{precision:>11.3f}{recall:>9.3f}{f1:>8.3f}")
    print(f"time: hub {seconds['hub']:.1f} s, trafilatura {seconds['trafilatura']:.1f} s")
    if report is not None:
        report.add("articles_hub_seconds", seconds["hub"], "wall seconds of the hub's HTML extractor on the pages")
        report.add("articles_trafilatura_seconds", seconds["trafilatura"],
                   "wall seconds of plain trafilatura.extract on the pages")
    print(f"hub F1 - trafilatura F1: all {result[('hub', 'all')] - result[('trafilatura', 'all')]:+.3f}, "
          f"held-out {result[('hub', 'odd')] - result[('trafilatura', 'odd')]:+.3f}")
    return result


def date_agrees(predicted, truth: str) -> bool:
    """True when ``predicted`` (a date or None) equals ``truth`` at the truth's precision
    (``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``)."""
    return predicted is not None and predicted.isoformat()[:len(truth)] == truth


def load_truth(corpus_dir: Path) -> dict[str, dict[str, str]]:
    """Title/date truth per docs file: manifest.csv, with the readability sidecars filling gaps."""
    truth: dict[str, dict[str, str]] = {}
    with open(corpus_dir / "manifest.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            truth[row["file"].split("/", 1)[1]] = {"title": row["title"].strip(), "date": row["date"].strip()}
    for sidecar in sorted((corpus_dir / "metadata-ground-truth").glob("*.expected-metadata.json")):
        name = sidecar.name.removesuffix(".expected-metadata.json")
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
        entry = truth.setdefault(name, {"title": "", "date": ""})
        if not entry["title"] and meta.get("title"):
            entry["title"] = meta["title"].strip()
        if not entry["date"] and meta.get("publishedTime"):
            entry["date"] = meta["publishedTime"][:10]
    return truth


def bench_metadata(corpus_dir: Path, subset: int | None, verbose: bool,
                   report: JsonReport | None = None) -> tuple[float, float]:
    """Title and date accuracy (0-1) on the corpus documents where the truth is known; recorded
    in ``report`` when given."""
    truth = load_truth(corpus_dir)
    names = _every(sorted(n for n in truth if (corpus_dir / "docs" / n).exists()), subset)
    titles = dates = title_ok = date_ok = failed = 0
    misses: list[str] = []
    for name in names:
        try:
            doc = extract((corpus_dir / "docs" / name).read_bytes(), url=f"http://corpus.local/{name}")
        except ExtractionError as exc:
            failed += 1
            misses.append(f"  failed {name}: {exc}")
            doc = None
        want = truth[name]
        if want["title"]:
            titles += 1
            if doc is not None and title_matches(doc.title, want["title"]):
                title_ok += 1
            else:
                misses.append(f"  title {name}: got {doc.title if doc else None!r} want {want['title']!r}")
        if want["date"]:
            dates += 1
            if doc is not None and date_agrees(doc.published_date, want["date"]):
                date_ok += 1
            else:
                misses.append(f"  date  {name}: got {doc.published_date if doc else None} want {want['date']}")
    title_acc = title_ok / titles if titles else float("nan")
    date_acc = date_ok / dates if dates else float("nan")
    print(f"\n(b) metadata on {len(names)} corpus documents ({failed} recorded failures)")
    print(f"title accuracy {title_ok}/{titles} = {title_acc:.1%}   date accuracy {date_ok}/{dates} = {date_acc:.1%}")
    if verbose:
        print("\n".join(misses))
    if report is not None:
        report.add("metadata_documents", len(names), "corpus documents read")
        report.add("metadata_failures", failed, "documents the hub refused (recorded failures)")
        report.add("metadata_title_accuracy", title_acc, "share of known titles matched (title_matches, 0-1)")
        report.add("metadata_title_known", titles, "documents with a known title")
        report.add("metadata_date_accuracy", date_acc, "share of known dates agreeing at the truth's precision (0-1)")
        report.add("metadata_date_known", dates, "documents with a known date")
    return title_acc, date_acc


def _plain_pdfium(data: bytes) -> list[str]:
    """Every page's text by plain pypdfium2 (the library the hub's default PDF text path wraps)."""
    import pypdfium2

    document = pypdfium2.PdfDocument(data)
    try:
        return [document[i].get_textpage().get_text_range() for i in range(len(document))]
    finally:
        document.close()


def bench_pdf_speed(corpus_dir: Path, subset: int | None, report: JsonReport | None = None) -> float:
    """Pages/s of the hub's PDF path (default ``extraction.pdf_text: pdfium``, and the
    ``pdfminer`` engine) vs plain pdfminer.six extract_text and plain pypdfium2, on the PDFs all
    read; with the two engines' word-set agreement per file. Returns hub/plain pdfminer and
    records every rate in ``report`` when given."""
    pdfs = _every(sorted((corpus_dir / "docs").glob("*.pdf")), subset)
    seconds = {"hub": 0.0, "hub_pdfminer": 0.0, "plain": 0.0, "plain_pdfium": 0.0}
    pages = files = by_pdfium = 0
    agreement: list[float] = []
    for path in pdfs:
        data = path.read_bytes()
        if not data.lstrip()[:1024].count(b"%PDF-"):
            continue
        took = {}
        try:
            start = time.perf_counter()
            doc = extract(data, url=path.name)
            took["hub"] = time.perf_counter() - start
            start = time.perf_counter()
            old = extract(data, url=path.name, pdf_text="pdfminer")
            took["hub_pdfminer"] = time.perf_counter() - start
        except ExtractionError:
            continue
        try:
            start = time.perf_counter()
            extract_text(io.BytesIO(data))
            took["plain"] = time.perf_counter() - start
            start = time.perf_counter()
            _plain_pdfium(data)
            took["plain_pdfium"] = time.perf_counter() - start
        except Exception:  # noqa: BLE001 - skip files a plain library cannot read
            continue
        for name, value in took.items():
            seconds[name] += value
        pages += doc.page_count or len(doc.pages)
        files += 1
        if doc.provenance["text"].source == "pdfium":
            by_pdfium += 1
            agreement.append(engines_agree([p.text for p in old.pages], [p.text for p in doc.pages]))
    rates = {name: pages / value for name, value in seconds.items()}
    print(f"\n(c) PDF speed on {files} PDFs, {pages} pages")
    print(f"hub {rates['hub']:.1f} pages/s (page texts by PDFium), hub with pdfminer's layout on every page "
          f"{rates['hub_pdfminer']:.1f}, plain pdfminer.six extract_text {rates['plain']:.1f}, plain pypdfium2 "
          f"{rates['plain_pdfium']:.1f}; hub / plain pdfminer {rates['hub'] / rates['plain']:.2f}")
    if agreement:
        print(f"PDFium read {by_pdfium} of {files}; word sets shared with the pdfminer engine: min "
              f"{min(agreement):.3f}, median {statistics.median(agreement):.3f}")
    if report is not None:
        report.add("pdf_files", files, "PDFs the hub and both plain libraries read")
        report.add("pdf_pages", pages, "pages in those PDFs")
        report.add("pdf_hub_pages_per_s", rates["hub"], "pages/s of the hub's PDF path (extraction.pdf_text: pdfium)")
        report.add("pdf_hub_pdfminer_pages_per_s", rates["hub_pdfminer"],
                   "pages/s of the hub's PDF path with extraction.pdf_text: pdfminer")
        report.add("pdf_plain_pages_per_s", rates["plain"], "pages/s of plain pdfminer.six extract_text")
        report.add("pdf_plain_pdfium_pages_per_s", rates["plain_pdfium"], "pages/s of plain pypdfium2 get_text_range")
        report.add("pdf_ratio", rates["hub"] / rates["plain"], "hub pages/s / pdfminer pages/s (1 = as fast)")
        report.add("pdf_pdfium_ratio", rates["hub"] / rates["plain_pdfium"],
                   "hub pages/s / plain pypdfium2 pages/s (the library the default text path wraps)")
        report.add("pdf_read_by_pdfium", by_pdfium, "PDFs whose text PDFium read (the others fell back to pdfminer)")
        if agreement:
            report.add("pdf_engine_agreement_min", min(agreement),
                       "lowest word-set Jaccard between the pdfium and pdfminer engines' texts of one PDF")
            report.add("pdf_engine_agreement_median", statistics.median(agreement),
                       "median word-set Jaccard between the two engines' texts")
    return rates["hub"] / rates["plain"]


def main() -> None:
    """Parse arguments and run the chosen parts."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--subset", type=int, default=None, help="about N pages/documents per part")
    parser.add_argument("--skip-articles", action="store_true")
    parser.add_argument("--skip-metadata", action="store_true")
    parser.add_argument("--skip-pdf-speed", action="store_true")
    parser.add_argument("--verbose", "-v", action="store_true", help="list metadata misses")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as flat JSON here")
    args = parser.parse_args()
    report = JsonReport("extract", args.json)
    corpus = args.shared / "corpus"
    if not corpus.exists():
        sys.exit(f"{corpus} is missing: the benchmark needs ../shared beside the clone")
    # the JSON is rewritten after each part, so an interrupted run keeps what it measured
    if not args.skip_articles:
        bench_articles(corpus / "article-extraction-benchmark", args.subset, report)
        report.write(parser, args, ignore=("json", "verbose"))
    if not args.skip_metadata:
        bench_metadata(corpus, args.subset, args.verbose, report)
        report.write(parser, args, ignore=("json", "verbose"))
    if not args.skip_pdf_speed:
        bench_pdf_speed(corpus, args.subset, report)
    report.write(parser, args, ignore=("json", "verbose"))


if __name__ == "__main__":
    main()
