"""One lxml tree per HTML page, and the lookups the HTML extractor and the landing-page check make
on it: the tree itself (:func:`parse_html`), an element's text (:func:`element_text`) and the
page's meta tags (:class:`MetaTags`).

Why lxml and not BeautifulSoup: the hub already parses each page with lxml inside trafilatura;
building BeautifulSoup's Python tree of the same page for these lookups cost about as much as
trafilatura's whole extraction (145 article-benchmark pages: 4.2 s of 10.6 s).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import lxml.html
from lxml import etree

# Comments and processing instructions stay in the tree: they separate the text around them, as
# they did in BeautifulSoup ("Foo<!-- -->Bar" is two strings, not "FooBar"). huge_tree lifts
# libxml2's nesting limit from 256 to 2,048 levels (pages of unclosed <font> or <span> tags go
# past 256; past 2,048 the rest of the page is lost, which BeautifulSoup's own tree builder did not do).
HTML_PARSER = lxml.html.HTMLParser(huge_tree=True)
UTF8_HTML_PARSER = lxml.html.HTMLParser(encoding="utf-8", huge_tree=True)
SKIPPED_TEXT = frozenset({"script", "style", "template", "rt", "rp"})
"""Elements whose contents are not text (code, styles, inert templates, ruby annotations): the
strings BeautifulSoup's ``get_text`` leaves out."""


def parse_html(html: str) -> lxml.html.HtmlElement | None:
    """The page's document tree, rooted at ``<html>``, parsed by lxml's HTML parser (libxml2, the
    parser BeautifulSoup's ``"lxml"`` mode drives, here without BeautifulSoup's Python tree: under a
    tenth of its cost, 0.36 s against 5.4 s for the article benchmark's 145 pages). Comments and
    processing instructions are kept (they separate text). A page with an XML encoding declaration
    (which lxml refuses in a ``str``) is parsed from its UTF-8 bytes. None when there is nothing to
    parse (an empty page)."""
    try:
        root = lxml.html.document_fromstring(html, parser=HTML_PARSER)
    except etree.ParserError:
        return None
    except ValueError:  # "Unicode strings with encoding declaration are not supported"
        try:
            root = lxml.html.document_fromstring(html.encode("utf-8", "surrogatepass"), parser=UTF8_HTML_PARSER)
        except (etree.ParserError, ValueError):
            return None
    # libxml2 puts what follows a (premature) </html> in another <html> beside the root: it is
    # still the page (a late <meta>, the rest of the text), so it moves into the root, in order
    for extra in list(root.itersiblings()):
        if isinstance(extra.tag, str):
            root.append(extra)
    return root


def text_pieces(element) -> list[str]:
    """The strings under ``element`` in document order (each element's text and the tails of its
    descendants; comments and processing instructions end a string), without what the
    :data:`SKIPPED_TEXT` elements hold (nothing when ``element`` is inside one). One walk
    (``lxml.etree.iterwalk``): an XPath ``.//text()`` took minutes on a page of 200,000
    comment-separated words."""
    if any(up.tag in SKIPPED_TEXT for up in element.iterancestors()):
        return []  # inside a template or a ruby annotation: none of it is text
    pieces: list[str] = []
    walker = etree.iterwalk(element, events=("start", "end", "comment", "pi"))
    for event, node in walker:
        if event == "start":
            if node.tag in SKIPPED_TEXT:
                walker.skip_subtree()  # its "end" still comes, with the text after it
            elif node.text:
                pieces.append(node.text)
        elif node is not element and node.tail:
            pieces.append(node.tail)
    return pieces


def element_text(element, separator: str = " ") -> str:
    """The text under ``element`` (:func:`text_pieces`): its pieces stripped, the empty ones dropped,
    joined by ``separator`` (what BeautifulSoup's ``get_text(separator, strip=True)`` gives)."""
    return separator.join(piece.strip() for piece in text_pieces(element) if piece.strip())


@dataclass(frozen=True)
class MetaTags:
    """A page's ``<meta>`` tags by ``property``, by ``name`` and by lower-cased ``name`` (the first
    of each in document order), indexed in one pass: a page's metadata is looked up about fifteen
    times (145 article-benchmark pages: 13.2 s -> 10.6 s against three tree searches per lookup)."""

    by_property: dict
    by_name: dict
    by_lower_name: dict

    @classmethod
    def of(cls, root) -> "MetaTags":
        """Index the ``<meta>`` tags under ``root`` (an lxml element)."""
        by_property: dict = {}
        by_name: dict = {}
        by_lower_name: dict = {}
        for tag in root.iter("meta"):
            prop, name = tag.get("property"), tag.get("name")
            if prop is not None:
                by_property.setdefault(prop, tag)
            if name is not None:
                by_name.setdefault(name, tag)
                by_lower_name.setdefault(name.lower(), tag)
        return cls(by_property, by_name, by_lower_name)

    def content(self, key: str) -> str | None:
        """The whitespace-normalised ``content`` of the tag whose ``property`` is ``key``, else whose
        ``name`` is ``key``, else whose ``name`` is ``key`` in any case; None when empty."""
        tag = self.by_property.get(key)
        if tag is None:
            tag = self.by_name.get(key)
        if tag is None:
            tag = self.by_lower_name.get(key.lower())
        value = tag.get("content") if tag is not None else None
        return " ".join(value.split()) if value and value.strip() else None


SCHEMA_ORG_PREFIX = re.compile(r"^https?://(?:www\.)?schema\.org/", re.I)
MAX_SCHEMA_NODES = 2_000  # JSON-LD objects visited per page (a page is not a knowledge graph dump)


def schema_org_types(root) -> frozenset[str]:
    """The schema.org types a page declares (https://schema.org/docs/gs.html), lower-cased local
    names such as ``"newsarticle"``: every ``@type`` in its JSON-LD blocks (``<script
    type="application/ld+json">``, W3C JSON-LD 1.1), at any depth (``@graph``, ``mainEntity``, ...),
    and every microdata ``itemtype`` (WHATWG HTML, "Microdata") on schema.org. A block that is not
    valid JSON (or nested past the JSON decoder's recursion limit) is skipped; at most :data:`MAX_SCHEMA_NODES` objects are visited. ``root``: the
    page's lxml tree (:func:`parse_html`) before its scripts are removed."""
    found: set[str] = set()
    stack: list = []
    for script in root.iter("script"):
        if (script.get("type") or "").split(";")[0].strip().lower() == "application/ld+json" and script.text:
            try:
                stack.append(json.loads(script.text))
            except (ValueError, RecursionError):  # not JSON, or nested deeper than the decoder goes
                continue
    visited = 0
    while stack and visited < MAX_SCHEMA_NODES:
        node = stack.pop()
        visited += 1
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            kinds = node.get("@type")
            for kind in kinds if isinstance(kinds, list) else [kinds]:
                if isinstance(kind, str) and kind:
                    found.add(SCHEMA_ORG_PREFIX.sub("", kind.strip()).rsplit(":", 1)[-1].lower())
            stack.extend(value for value in node.values() if isinstance(value, (dict, list)))
    for itemtype in root.xpath("//*[@itemtype]/@itemtype"):  # libxml2 walks the tree, not Python
        for kind in str(itemtype).split():
            if SCHEMA_ORG_PREFIX.match(kind):
                found.add(SCHEMA_ORG_PREFIX.sub("", kind).strip("/").lower())
    return frozenset(found)
