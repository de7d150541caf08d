"""Document type from URL, title and page-type cues (rules; refined by issue 4's work)."""

from __future__ import annotations

import re

from core.models import DocType

RULES: list[tuple[DocType, re.Pattern]] = [
    ("evaluation", re.compile(r"\bevaluat", re.I)),
    ("inspection", re.compile(r"\binspection|\bofsted\b|\bcqc\b|\bhmi", re.I)),
    ("guidance", re.compile(r"\bguidance\b|\bhandbook\b|\btoolkit\b|\bhow to\b|\bguide\b", re.I)),
    ("policy_paper", re.compile(r"\bpolicy paper\b|\bmanifesto\b|\bwhite paper\b|\bstrategy\b", re.I)),
    ("briefing", re.compile(r"\bbriefing\b|\bbrief\b", re.I)),
    ("transcript", re.compile(r"\btranscript\b", re.I)),
]


def guess_doc_type(*, url: str, title: str | None, mime: str, page_type: str = "") -> DocType:
    """One of the DocType values from cues in the title, the URL and the MIME type."""
    haystack = f"{title or ''} {url}"
    for doc_type, pattern in RULES:
        if pattern.search(haystack):
            return doc_type
    if mime == "application/pdf":
        return "report"
    lowered = url.lower()
    if "/blog" in lowered or "/posts/" in lowered or page_type == "blogposting":
        return "blog_post"
    if "/news" in lowered or page_type == "newsarticle":
        return "news"
    return "web_page"
