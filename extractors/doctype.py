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


# schema.org types (lower-cased local names) a page declares, and the document type each means:
# the NewsArticle family, BlogPosting / LiveBlogPosting, Dataset (https://schema.org/NewsArticle, ...)
SCHEMA_TYPES: list[tuple[DocType, frozenset[str]]] = [
    ("news", frozenset({"newsarticle", "reportagenewsarticle", "analysisnewsarticle", "opinionnewsarticle",
                        "reviewnewsarticle", "backgroundnewsarticle", "askpublicnewsarticle"})),
    ("blog_post", frozenset({"blogposting", "liveblogposting"})),
    ("data", frozenset({"dataset"})),
]


def guess_doc_type(*, url: str, title: str | None, mime: str, page_type: str = "",
                   schema_types: frozenset[str] = frozenset()) -> DocType:
    """One of the DocType values from cues in the title and the URL (:data:`RULES`, first match),
    then the schema.org types the page declares (``schema_types``,
    :func:`extractors.html_tree.schema_org_types`; :data:`SCHEMA_TYPES`, first match), then the MIME
    type (a PDF without a cue is a report), then URL paths and trafilatura's page type."""
    haystack = f"{title or ''} {url}"
    for doc_type, pattern in RULES:
        if pattern.search(haystack):
            return doc_type
    for doc_type, kinds in SCHEMA_TYPES:
        if schema_types & kinds:
            return doc_type
    if mime == "application/pdf":
        return "report"
    lowered = url.lower()
    if "/blog" in lowered or "/posts/" in lowered or page_type == "blogposting":
        return "blog_post"
    if "/news" in lowered or page_type == "newsarticle":
        return "news"
    return "web_page"
