"""Write the fictional Northmoor Collaboration Observatory demo site as static files.

Layout under the output root (all paths are URL paths when served from that root)::

    index.html                      listing of every post, report page and PDF
    posts/<slug>.html               one page per blog post
    reports/<slug>.html             landing page per report, linking its PDF
    reports/<slug>.pdf              the report itself (fpdf2, core font Helvetica)
    private/staff-only.html         a page crawlers must skip (robots.txt disallows
                                    /private/; :mod:`demo.server` generates robots.txt)

Output is deterministic: building twice gives byte-identical files (no timestamps; the
PDF creation date is the document's publication date at 00:00 UTC).

Command line: ``python -m demo.build OUT_DIR`` writes the site and prints the paths.
"""

from __future__ import annotations

import argparse
import html
from datetime import date, datetime, timezone
from pathlib import Path

from fpdf import FPDF

from demo.content import DOCUMENTS, POSTS, PUBLISHER, REPORTS, DemoDocument

COPYRIGHT_YEAR = 2026
"""Year on every page's copyright line; deliberately not any publication year, so that
date extraction that picks up footer boilerplate is caught out."""

_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August",
    "September", "October", "November", "December",
)

# Characters outside latin-1 that the demo text uses, and their ASCII stand-ins.
_ASCII_FALLBACKS = {
    "\u2018": "'", "\u2019": "'", "\u201a": ",", "\u201b": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2032": "'", "\u2033": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
    "\u2015": "-", "\u2212": "-", "\u2026": "...", "\u2022": "*", "\u00a0": " ",
    "\u2009": " ", "\u202f": " ", "\u200b": "",
}

_STYLE = (
    "body{font-family:Georgia,serif;max-width:46rem;margin:0 auto;padding:0 1rem;"
    "color:#222;line-height:1.55}header,footer{font-family:Arial,sans-serif;"
    "font-size:.9rem}header nav ul,footer ul{list-style:none;padding:0;display:flex;"
    "gap:1rem;flex-wrap:wrap}.byline,.meta{color:#555}footer{border-top:1px solid #ccc;"
    "margin-top:3rem;padding-top:1rem}"
)


def human_date(day: date) -> str:
    """Format a date as e.g. ``"5 March 2024"`` (English month names, locale-independent)."""
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def to_pdf_text(text: str) -> str:
    """Make ``text`` safe for fpdf2's core fonts (latin-1 only).

    Curly quotes, dashes, ellipses and odd spaces become ASCII; any other character
    outside latin-1 becomes ``"?"``.  Returns a ``str`` whose characters are all < 256.
    """
    for char, replacement in _ASCII_FALLBACKS.items():
        text = text.replace(char, replacement)
    return text.encode("latin-1", errors="replace").decode("latin-1")


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _authors_text(authors: list[str]) -> str:
    if len(authors) == 1:
        return authors[0]
    return ", ".join(authors[:-1]) + " and " + authors[-1]


def _page(
    *,
    title: str,
    description: str,
    depth: int,
    main: str,
    document: DemoDocument | None = None,
    robots: str | None = None,
) -> str:
    """A complete HTML page; ``depth`` is the number of folders below the site root."""
    up = "../" * depth
    head = [
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)} | {_e(PUBLISHER)}</title>",
        f'<meta name="description" content="{_e(description)}">',
    ]
    if robots:
        head.append(f'<meta name="robots" content="{_e(robots)}">')
    if document is not None:
        head += [
            f'<meta name="author" content="{_e(", ".join(document.authors))}">',
            f'<meta property="og:title" content="{_e(document.title)}">',
            '<meta property="og:type" content="article">',
            f'<meta property="og:description" content="{_e(document.summary)}">',
            f'<meta property="article:published_time" '
            f'content="{document.published.isoformat()}">',
        ]
    else:
        head.append(f'<meta property="og:title" content="{_e(title)}">')
        head.append('<meta property="og:type" content="website">')
    head.append(f'<meta property="og:site_name" content="{_e(PUBLISHER)}">')
    head.append(f"<style>{_STYLE}</style>")
    head_html = "\n".join(head)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
{head_html}
</head>
<body>
<header>
<p class="site-name"><a href="{up}index.html">{_e(PUBLISHER)}</a></p>
<nav aria-label="Main">
<ul>
<li><a href="{up}index.html">Home</a></li>
<li><a href="{up}index.html#blog">Blog</a></li>
<li><a href="{up}index.html#reports">Reports</a></li>
<li><a href="{up}index.html#about">About us</a></li>
</ul>
</nav>
<form class="search" action="{up}index.html" method="get" role="search">
<label>Search the Observatory <input type="search" name="q"></label>
<button type="submit">Search</button>
</form>
</header>
<main>
{main}
</main>
<footer>
<p>Sign up to our monthly newsletter for new research on collaboration in public services.</p>
<ul>
<li><a href="{up}index.html#about">About the Observatory</a></li>
<li><a href="{up}index.html#contact">Contact</a></li>
<li><a href="{up}index.html#privacy">Privacy and cookies</a></li>
<li><a href="{up}private/staff-only.html">Staff area</a></li>
</ul>
<p>&copy; {COPYRIGHT_YEAR} {_e(PUBLISHER)}. All rights reserved. \
Registered charity no. 0000000 (fictional).</p>
<p>Everything on this site is fictional sample data written for the Evidence Hub demo.</p>
</footer>
</body>
</html>
"""


def _byline(document: DemoDocument) -> str:
    spans = [f'<span class="author">{_e(name)}</span>' for name in document.authors]
    return (
        f'<p class="byline">By {_authors_text(spans)} &middot; <time datetime="'
        f'{document.published.isoformat()}">{human_date(document.published)}</time></p>'
    )


def _body_html(sections: list[tuple[str, str]]) -> str:
    parts: list[str] = []
    for heading, body in sections:
        if heading:
            parts.append(f"<h2>{_e(heading)}</h2>")
        parts += [f"<p>{_e(paragraph)}</p>" for paragraph in body.split("\n\n") if paragraph]
    return "\n".join(parts)


def _related(document: DemoDocument, depth: int) -> str:
    up = "../" * depth
    others = [d for d in DOCUMENTS if d.slug != document.slug][:3]
    items = "\n".join(
        f'<li><a href="{up}{"posts" if d.kind == "post" else "reports"}/{d.slug}.html">'
        f"{_e(d.title)}</a></li>"
        for d in others
    )
    return f'<aside class="related">\n<h2>More from the Observatory</h2>\n<ul>\n{items}\n</ul>\n</aside>'


def render_post(document: DemoDocument) -> str:
    """Return the full HTML of ``posts/<slug>.html`` for a post (``kind == "post"``)."""
    main = (
        f'<article>\n<h1>{_e(document.title)}</h1>\n{_byline(document)}\n'
        f'<p class="standfirst"><strong>{_e(document.summary)}</strong></p>\n'
        f"{_body_html(document.sections)}\n</article>\n{_related(document, 1)}"
    )
    return _page(
        title=document.title, description=document.summary, depth=1, main=main,
        document=document,
    )


def render_report_page(document: DemoDocument, pdf_size: int) -> str:
    """Return the HTML landing page for a report; ``pdf_size`` is the PDF size in bytes."""
    summary = dict(document.sections).get("Summary", document.summary)
    size_kb = max(1, round(pdf_size / 1024))
    main = (
        f'<article>\n<p class="meta">Report</p>\n<h1>{_e(document.title)}</h1>\n'
        f"{_byline(document)}\n<p>{_e(document.summary)}</p>\n"
        f'<p class="download"><a href="{document.slug}.pdf" type="application/pdf">'
        f"Download the full report (PDF, {size_kb} KB)</a></p>\n"
        f"{_body_html([('Summary', summary)])}\n</article>\n{_related(document, 1)}"
    )
    return _page(
        title=document.title, description=document.summary, depth=1, main=main,
        document=document,
    )


def render_index() -> str:
    """Return the HTML of the site's ``index.html`` (posts and reports, newest first)."""
    def listing(documents: tuple[DemoDocument, ...], folder: str, pdf: bool) -> str:
        rows = []
        for d in sorted(documents, key=lambda d: d.published, reverse=True):
            extra = f' (<a href="{folder}/{d.slug}.pdf">PDF</a>)' if pdf else ""
            rows.append(
                f'<li><a href="{folder}/{d.slug}.html">{_e(d.title)}</a>{extra}<br>'
                f'<span class="meta">{_e(_authors_text(d.authors))} &middot; '
                f'<time datetime="{d.published.isoformat()}">{human_date(d.published)}'
                f"</time></span></li>"
            )
        return "<ul>\n" + "\n".join(rows) + "\n</ul>"

    main = (
        f"<h1>{_e(PUBLISHER)}</h1>\n"
        "<p>Research and commentary on how public services, charities and communities "
        "work together.</p>\n"
        f'<section id="blog">\n<h2>Blog</h2>\n{listing(POSTS, "posts", False)}\n</section>\n'
        f'<section id="reports">\n<h2>Reports</h2>\n{listing(REPORTS, "reports", True)}\n'
        "</section>\n"
        '<section id="about">\n<h2>About us</h2>\n<p>The Northmoor Collaboration '
        "Observatory is a fictional organisation invented for the Evidence Hub demo. Its "
        "people, places and findings do not exist.</p>\n</section>"
    )
    return _page(
        title="Home",
        description="Fictional research on collaboration in public services "
        "(Evidence Hub demo site).",
        depth=0,
        main=main,
    )


def render_private() -> str:
    """Return the HTML of ``private/staff-only.html`` (robots-disallowed, noindex)."""
    main = (
        "<article>\n<h1>Staff only: editorial rota</h1>\n"
        "<p>This page is for Observatory staff. It lists who is editing which draft this "
        "month and must not appear in search results.</p>\n"
        "<ul>\n<li>Week 1: copy-editing the loneliness network post</li>\n"
        "<li>Week 2: proofreading the partnership boards report</li>\n</ul>\n</article>"
    )
    return _page(
        title="Staff only", description="Internal page.", depth=1, main=main,
        robots="noindex, nofollow",
    )


class _ReportPDF(FPDF):
    """A4 report with a running footer (publisher, short title, page number)."""

    def __init__(self, running_title: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self._running_title = running_title

    def footer(self) -> None:  # noqa: D401 - fpdf2 hook
        self.set_y(-15)
        self.set_font("Helvetica", "", 8)
        self.set_text_color(110, 110, 110)
        self.cell(
            0, 8, to_pdf_text(f"{PUBLISHER} | {self._running_title} | Page {self.page_no()}"),
            align="C",
        )
        self.set_text_color(0, 0, 0)


def render_report_pdf(document: DemoDocument) -> bytes:
    """Return the PDF bytes of a report (deterministic for a given document).

    Page 1 starts with the title in 22 pt Helvetica Bold, then the authors and the
    publication date; each section follows as a bold heading and 11 pt body text.
    Info metadata: Title, Author (comma-separated), Subject (summary), Creator, and
    CreationDate = the publication date at 00:00 UTC.
    """
    title = to_pdf_text(document.title)
    running = title.split(":")[0] if ":" in title else title
    pdf = _ReportPDF(running)
    pdf.set_title(title)
    pdf.set_author(to_pdf_text(", ".join(document.authors)))
    pdf.set_subject(to_pdf_text(document.summary))
    pdf.set_creator("Evidence Hub demo site builder")
    pdf.set_keywords("collaboration, partnership, public services, fictional demo")
    published = document.published
    pdf.set_creation_date(
        datetime(published.year, published.month, published.day, tzinfo=timezone.utc)
    )
    pdf.set_margins(20, 20, 20)
    pdf.set_auto_page_break(auto=True, margin=22)
    pdf.add_page()

    def block(text: str, style: str, size: float, line_height: float) -> None:
        pdf.set_font("Helvetica", style, size)
        pdf.multi_cell(0, line_height, text, new_x="LMARGIN", new_y="NEXT", align="L")

    block(title, "B", 22, 10)
    pdf.ln(4)
    block(to_pdf_text(_authors_text(document.authors)), "", 12, 6)
    block(human_date(published), "", 12, 6)
    block(to_pdf_text(PUBLISHER), "I", 10, 6)
    pdf.ln(8)

    for heading, body in document.sections:
        if heading:
            block(to_pdf_text(heading), "B", 14, 8)
            pdf.ln(1)
        for paragraph in body.split("\n\n"):
            block(to_pdf_text(paragraph), "", 11, 5.5)
            pdf.ln(2.5)
        pdf.ln(3)

    block(
        f"(c) {COPYRIGHT_YEAR} {PUBLISHER}. Fictional sample report written for the "
        "Evidence Hub demo; the places, people and figures in it are invented.",
        "I", 9, 5,
    )
    return bytes(pdf.output())


def _write(path: Path, data: bytes) -> Path:
    """Write ``data`` unless the file already holds exactly these bytes (its mtime, and so the
    server's Last-Modified and ETag, then stay put: a re-crawl sees the page as unchanged)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not (path.is_file() and path.read_bytes() == data):
        path.write_bytes(data)
    return path


def build_site(root: Path) -> list[Path]:
    """Write the demo site under ``root`` and return the written file paths, sorted.

    Creates ``root`` and its subfolders when missing and overwrites existing files of
    the same names when their bytes differ (other files are left alone).  HTML is UTF-8 with ``\\n`` line
    endings.  Deterministic: two builds produce byte-identical files.  Raises
    ``OSError`` when a file cannot be written.
    """
    root = Path(root)
    written: list[Path] = []
    for document in POSTS:
        written.append(
            _write(root / "posts" / f"{document.slug}.html", render_post(document).encode("utf-8"))
        )
    for document in REPORTS:
        pdf_bytes = render_report_pdf(document)
        written.append(_write(root / "reports" / f"{document.slug}.pdf", pdf_bytes))
        written.append(
            _write(
                root / "reports" / f"{document.slug}.html",
                render_report_page(document, len(pdf_bytes)).encode("utf-8"),
            )
        )
    written.append(_write(root / "index.html", render_index().encode("utf-8")))
    written.append(
        _write(root / "private" / "staff-only.html", render_private().encode("utf-8"))
    )
    return sorted(written)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: ``python -m demo.build OUT_DIR``; returns exit status 0."""
    parser = argparse.ArgumentParser(description="Write the fictional demo site.")
    parser.add_argument("out", type=Path, help="folder to write the site into")
    args = parser.parse_args(argv)
    for path in build_site(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
