"""Fuzz the extractors through the hub's isolated extraction path (``ExtractionPool``: a worker
process per document under a time and memory limit, the path the pipeline uses).

Inputs are real documents mutated by Hypothesis strategies: byte flips, truncation, splices of two
documents, xref/trailer damage (PDF), charset damage (HTML: bogus or contradictory ``<meta
charset>``, a BOM of another encoding, invalid UTF-8), huge attributes, deep nesting (HTML
elements; PDF arrays and dictionaries). Seeds: the files of ``../shared/corpus/docs`` under
``--max-seed-kib`` (when present) and the project's demo site (``demo.build``), plus the small PDFs
and pages of ``tests.fault_site``.

The property: whatever the bytes, ``ExtractionPool.result`` returns an ``ExtractedDocument`` or
raises ``ExtractionError`` with a non-empty reason; no other exception escapes and the pool keeps
serving the next document (a crashed or killed worker is one document's failure).

Usage::

    nice -n 10 python benchmarks/fuzz_extract.py [--examples 3000] [--max-minutes 10] [--seed 1]
        [--batch 8] [--json benchmarks/results/fuzz.json]

Prints counts by outcome and by reason (reasons are normalised: digits become ``N``, quoted
parts and long tails are cut) and every escape in full. Exit status 1 when anything escaped.

JSON (``--json PATH``)::

    {
      "generated_at": "2026-11-30T05:00:00Z", "seed": 1, "max_minutes": 10.0,
      "seeds": {"corpus": 40, "demo": 20, "fault_site": 3},   # seed documents by origin
      "inputs": 3000, "seconds": 512.3,
      "outcomes": {"extracted": 1800, "extraction_error": 1200, "escaped": 0, "empty_reason": 0},
      "by_mutation": {"flip": {"extracted": 300, "extraction_error": 200}, ...},
      "reasons": {"extractor error: PDFSyntaxError": 120, ...},   # ExtractionError reasons, normalised
      "escaped": [{"mutation": "...", "seed": "...", "error": "..."}]   # at most 50
    }
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
import traceback
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SHARED = Path(os.environ.get("EVIDENCE_HUB_SHARED", ROOT.parent / "shared"))


@dataclass(frozen=True)
class Seed:
    """A real document to mutate: ``name`` (origin/file), ``kind`` ("pdf" or "html"), ``data``."""

    name: str
    kind: str
    data: bytes


def project_seeds(folder: Path) -> list[Seed]:
    """The demo site written into ``folder`` (``demo.build.build_site``) and the fault site's small
    PDF and page: project-written documents, no ``../shared`` needed."""
    from demo.build import build_site
    from tests.fault_site import make_pdf, page_html

    seeds = []
    for path in build_site(folder):
        if path.suffix in (".html", ".pdf"):
            seeds.append(Seed(f"demo/{path.relative_to(folder)}", path.suffix[1:], path.read_bytes()))
    seeds.append(Seed("fault_site/report.pdf", "pdf", make_pdf("Pooled budgets in integrated care: an evaluation")))
    seeds.append(Seed("fault_site/page.html", "html", page_html("fuzz seed page", words=200)))
    return seeds


def corpus_seeds(max_bytes: int) -> list[Seed]:
    """Files of ``../shared/corpus/docs`` up to ``max_bytes`` each (empty list when absent)."""
    docs = SHARED / "corpus" / "docs"
    if not docs.is_dir():
        return []
    return [Seed(f"corpus/{p.name}", p.suffix[1:], p.read_bytes()) for p in sorted(docs.iterdir())
            if p.suffix in (".html", ".pdf") and p.stat().st_size <= max_bytes]


# -- mutations: each is a Hypothesis strategy of (name, function of (data, other) -> bytes) --------
def _at(data: bytes, fraction: float) -> int:
    return min(len(data), int(fraction * len(data)))


fractions = st.floats(0.0, 1.0, allow_nan=False)


@st.composite
def flips(draw):
    """1-64 bytes replaced by random ones at random places."""
    edits = draw(st.lists(st.tuples(fractions, st.integers(0, 255)), min_size=1, max_size=64))

    def apply(data: bytes, other: bytes) -> bytes:
        out = bytearray(data)
        for fraction, value in edits:
            if out:
                out[min(len(out) - 1, int(fraction * len(out)))] = value
        return bytes(out)

    return f"flip x{len(edits)}", apply


@st.composite
def truncations(draw):
    """The first part of the document only."""
    fraction = draw(fractions)
    return f"truncate {fraction:.2f}", lambda data, other: data[:_at(data, fraction)]


@st.composite
def splices(draw):
    """The head of one document joined to the tail of another (possibly of another kind)."""
    a, b = draw(fractions), draw(fractions)
    return "splice", lambda data, other: data[:_at(data, a)] + other[_at(other, b):]


PDF_MARKERS = (b"xref", b"startxref", b"trailer", b"/Length", b"obj", b"endobj", b"stream", b"endstream",
               b"/Root", b"/Pages", b"/Kids", b"/Count", b"/Filter", b"/Type")


@st.composite
def xref_damage(draw):
    """PDF structure damaged: a marker renamed or its number changed, startxref pointing anywhere,
    the xref table's digits scrambled."""
    marker = draw(st.sampled_from(PDF_MARKERS))
    how = draw(st.sampled_from(["rename", "number", "startxref", "scramble-xref", "drop"]))
    number = draw(st.integers(-5, 10**12))
    junk = draw(st.binary(min_size=1, max_size=6))

    def apply(data: bytes, other: bytes) -> bytes:
        if how == "rename":
            return data.replace(marker, junk)
        if how == "drop":
            return data.replace(marker, b"")
        if how == "number":
            return re.sub(re.escape(marker) + rb"(\s*)(\d+)", lambda m: marker + m.group(1) + str(number).encode(),
                          data)
        if how == "startxref":
            return re.sub(rb"startxref\s*\d+", b"startxref\n" + str(number).encode(), data)
        start = data.rfind(b"xref")
        if start < 0:
            return data
        table = data[start:start + 400]
        scrambled = bytes((48 + (c * 7 + number) % 10) if 48 <= c <= 57 else c for c in table)
        return data[:start] + scrambled + data[start + 400:]

    return f"xref {how} {marker.decode()}", apply


CHARSETS = ("utf-7", "utf-16", "utf-32", "x-bogus", "iso-2022-jp", "shift_jis", "koi8-r", "", "utf-8; x=\"",
            "windows-1252\x00", "a" * 300)


@st.composite
def charset_damage(draw):
    """HTML encoding contradictions: a bogus or wrong ``<meta charset>``, a foreign BOM, invalid
    UTF-8 sequences, the page re-encoded as UTF-16 without saying so."""
    how = draw(st.sampled_from(["meta", "bom", "invalid", "utf16", "nul"]))
    charset = draw(st.sampled_from(CHARSETS))
    bom = draw(st.sampled_from([b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff", b"\x2b\x2f\x76"]))
    spots = draw(st.lists(fractions, min_size=1, max_size=20))

    def apply(data: bytes, other: bytes) -> bytes:
        if how == "meta":
            replaced = re.sub(rb"(?i)charset=[\"']?[\w-]*", b"charset=" + charset.encode("latin-1", "replace"),
                              data)
            return replaced if replaced != data else b"<meta charset=\"" + charset.encode("latin-1", "replace") \
                + b"\">" + data
        if how == "bom":
            return bom + data
        if how == "utf16":
            return data.decode("utf-8", "replace").encode("utf-16-le")
        out = bytearray(data)
        for fraction in spots:
            out[_at(out, fraction):_at(out, fraction)] = b"\xc3\x28\xe2\x82\xff" if how == "invalid" else b"\x00"
        return bytes(out)

    return f"charset {how}", apply


@st.composite
def huge_attributes(draw):
    """An element with an attribute (or a title, or a comment) of up to 2 MiB."""
    size = draw(st.integers(1_000, 2 * 1024 * 1024))
    where = draw(fractions)
    form = draw(st.sampled_from([b'<div data-x="%s">x</div>', b"<title>%s</title>", b"<!--%s-->",
                                 b'<meta name="citation_title" content="%s">', b"<a href=\"%s\">a</a>"]))

    def apply(data: bytes, other: bytes) -> bytes:
        at = _at(data, where)
        return data[:at] + form.replace(b"%s", b"A" * size) + data[at:]

    return f"huge attribute {size // 1024} KiB", apply


@st.composite
def deep_nesting(draw):
    """Deeply nested HTML elements or PDF arrays/dictionaries (up to 100,000 levels)."""
    depth = draw(st.integers(100, 100_000))
    form = draw(st.sampled_from([(b"<div>", b"</div>"), (b"<b><i>", b""), (b"<table><tr><td>", b""),
                                 (b"[", b"]"), (b"<<", b">>")]))
    where = draw(fractions)

    def apply(data: bytes, other: bytes) -> bytes:
        at = _at(data, where)
        return data[:at] + form[0] * depth + b"text " + form[1] * depth + data[at:]

    return f"deep nesting {form[0].decode()} x{depth}", apply


MUTATIONS = {"flip": flips(), "truncate": truncations(), "splice": splices(), "xref": xref_damage(),
             "charset": charset_damage(), "huge_attribute": huge_attributes(), "deep_nesting": deep_nesting()}


@st.composite
def mutated(draw, seeds: list[Seed]):
    """A fuzz input: ``(description, mutation family, seed name, bytes)``; one to three mutations
    (of the families in :data:`MUTATIONS`) applied to a seed document in turn."""
    seed = draw(st.sampled_from(seeds))
    other = draw(st.sampled_from(seeds))
    families = draw(st.lists(st.sampled_from(sorted(MUTATIONS)), min_size=1, max_size=3))
    data = seed.data
    names = []
    for family in families:
        name, apply = draw(MUTATIONS[family])
        data = apply(data, other.data)
        names.append(name)
    return " + ".join(names), families[0], seed.name, data


# -- running inputs through the isolated path ----------------------------------------------------
def normalise(reason: str) -> str:
    """A reason grouped for counting: quoted parts and numbers replaced, cut at 90 characters."""
    text = re.sub(r"'[^']*'|\"[^\"]*\"|b'[^']*'", "…", reason)
    text = re.sub(r"\d+(\.\d+)?", "N", text)
    return text[:90]


def classify(pool, future) -> tuple[str, str]:
    """Wait for one submitted extraction: ``("extracted", "")``, ``("extraction_error", reason)``,
    ``("empty_reason", "")`` or ``("escaped", traceback)``."""
    from extractors.base import ExtractionError

    try:
        pool.result(future)
    except ExtractionError as exc:
        return ("extraction_error", str(exc)) if str(exc).strip() else ("empty_reason", "")
    except BaseException:  # noqa: BLE001 - what the property forbids: report it whole
        return "escaped", traceback.format_exc()
    return "extracted", ""


def make_pool(timeout_s: float = 30.0, memory_mb: int = 1024, workers: int = 2):
    """An ``ExtractionPool`` with fuzzing limits (seconds, MiB, processes)."""
    from config.settings import ExtractionSettings
    from extractors.isolation import ExtractionPool

    return ExtractionPool(ExtractionSettings(timeout_s=timeout_s, memory_mb=memory_mb, workers=workers))


def main(argv: list[str] | None = None) -> int:
    """Run the fuzzer (see the module docstring); exit status 1 when anything escaped."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=3000, help="inputs to try at most (3000)")
    parser.add_argument("--max-minutes", type=float, default=10.0, help="stop after this (10)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch", type=int, default=8, help="inputs submitted together (8)")
    parser.add_argument("--max-seed-kib", type=int, default=60, help="corpus files larger than this are not seeds")
    parser.add_argument("--timeout-s", type=float, default=10.0, help="per-document extraction deadline (10)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path, help="write the counts as JSON here")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        seeds = corpus_seeds(args.max_seed_kib * 1024) + project_seeds(Path(tmp) / "demo")
    origins = Counter(s.name.split("/", 1)[0] for s in seeds)
    print(f"seeds: {dict(origins)}", flush=True)
    outcomes: Counter[str] = Counter()
    by_mutation: dict[str, Counter[str]] = defaultdict(Counter)
    reasons: Counter[str] = Counter()
    escaped: list[dict] = []
    started = time.monotonic()
    stop_at = started + args.max_minutes * 60
    pool = make_pool(args.timeout_s, workers=args.workers)
    batches = max(1, -(-args.examples // args.batch))

    @settings(max_examples=batches, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(st.lists(mutated(seeds), min_size=args.batch, max_size=args.batch))
    def run_batch(inputs):
        if time.monotonic() > stop_at:
            return
        futures = [(pool.submit(data, url=f"fuzz://{name}"), description, family, name)
                   for description, family, name, data in inputs]
        for future, description, family, name in futures:
            outcome, detail = classify(pool, future)
            outcomes[outcome] += 1
            by_mutation[family][outcome] += 1
            if outcome == "extraction_error":
                reasons[normalise(detail)] += 1
            elif outcome in ("escaped", "empty_reason") and len(escaped) < 50:
                escaped.append({"mutation": description, "seed": name, "error": detail or "(empty reason)"})
        done = sum(outcomes.values())
        if done % 200 < args.batch:
            print(f"{done} inputs, {time.monotonic() - started:.0f} s: {dict(outcomes)}", flush=True)

    try:
        hypothesis_seed(args.seed)(run_batch)()
    finally:
        pool.close()
    seconds = time.monotonic() - started
    total = sum(outcomes.values())
    print(f"\n{total} inputs in {seconds:.0f} s ({total / max(seconds, 1e-9):.1f}/s)")
    print("outcomes:", dict(outcomes))
    print("by mutation family:")
    for family in sorted(by_mutation):
        print(f"  {family:15} {dict(by_mutation[family])}")
    print("ExtractionError reasons:")
    for reason, count in reasons.most_common():
        print(f"  {count:6}  {reason}")
    for item in escaped:
        print(f"\nESCAPED ({item['mutation']} of {item['seed']}):\n{item['error']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "generated_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "seed": args.seed, "max_minutes": args.max_minutes, "seeds": dict(origins), "inputs": total,
            "seconds": round(seconds, 1),
            "outcomes": {k: outcomes.get(k, 0) for k in ("extracted", "extraction_error", "escaped", "empty_reason")},
            "by_mutation": {k: dict(v) for k, v in sorted(by_mutation.items())},
            "reasons": dict(reasons.most_common()), "escaped": escaped,
        }, indent=2) + "\n")
        print(f"JSON: {args.json}")
    return 1 if outcomes["escaped"] or outcomes["empty_reason"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
