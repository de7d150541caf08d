"""XMP metadata of a PDF (the catalog's ``/Metadata`` stream; ISO 16684-1, the Extensible
Metadata Platform): RDF/XML read with lxml, external entities and network access off."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from lxml import etree

from extractors.doi import normalise_doi

NS = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "pdf": "http://ns.adobe.com/pdf/1.3/",
    "prism": "http://prismstandard.org/namespaces/basic/2.0/",
}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, recover=True, huge_tree=False)


@dataclass(frozen=True)
class XmpMetadata:
    """The XMP fields the hub uses (None / empty when absent)."""

    title: str | None = None
    creators: list[str] = field(default_factory=list)
    publisher: str | None = None
    description: str | None = None
    created: date | None = None
    doi: str | None = None


def _clean(text: str | None) -> str | None:
    value = " ".join((text or "").replace("\x00", "").split())
    return value or None


def _values(root, path: str) -> list[str]:
    """Texts of a property: a simple value, or the items of its rdf:Alt / rdf:Seq / rdf:Bag
    (``x-default`` first in an Alt), as attribute form too (``dc:title="..."``)."""
    found: list[str] = []
    for element in root.iterfind(f".//{path}", NS):
        items = element.findall("./rdf:Alt/rdf:li", NS) + element.findall("./rdf:Seq/rdf:li", NS) \
            + element.findall("./rdf:Bag/rdf:li", NS)
        items.sort(key=lambda li: li.get("{http://www.w3.org/XML/1998/namespace}lang") != "x-default")
        found.extend(filter(None, (_clean(li.text) for li in items)) if items else filter(None, [_clean(element.text)]))
    prefix, name = path.split(":")
    for description in root.iterfind(".//rdf:Description", NS):
        value = _clean(description.get(f"{{{NS[prefix]}}}{name}"))
        if value:
            found.append(value)
    return found


def _xmp_date(value: str | None) -> date | None:
    """An XMP date (ISO 8601 subset: ``YYYY``, ``YYYY-MM``, ``YYYY-MM-DDThh:mm...``) as a date."""
    if not value or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def parse_xmp(data: bytes) -> XmpMetadata:
    """Title (dc:title), creators (dc:creator), publisher (dc:publisher), description
    (dc:description), creation date (xmp:CreateDate) and DOI (prism:doi, or a dc:identifier
    that is a DOI) from an XMP packet. Malformed or empty
    packets give an empty XmpMetadata (never raises)."""
    try:
        root = etree.fromstring(data.strip(), _PARSER)
    except (etree.XMLSyntaxError, ValueError):
        return XmpMetadata()
    if root is None:
        return XmpMetadata()
    first = lambda path: next(iter(_values(root, path)), None)  # noqa: E731
    return XmpMetadata(title=first("dc:title"), creators=list(dict.fromkeys(_values(root, "dc:creator"))),
                       publisher=first("dc:publisher"), description=first("dc:description"),
                       created=_xmp_date(first("xmp:CreateDate")),
                       doi=next(filter(None, map(normalise_doi, _values(root, "prism:doi") + _values(root, "dc:identifier"))), None))
