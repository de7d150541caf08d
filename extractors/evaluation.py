"""Scoring extracted metadata against ground truth (used by tests and benchmarks)."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

PARENTHETICAL_RE = re.compile(r"\s*\([^)]*\)")
QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-"})


def title_tokens(text: str) -> list[str]:
    """Lower-cased word tokens of a title after NFKC and quote/dash folding."""
    text = unicodedata.normalize("NFKC", text or "").translate(QUOTES).casefold()
    return re.findall(r"\w+", text)


def token_f1(predicted: str, truth: str) -> float:
    """Bag-of-tokens F1 between two strings (0..1); the measure of the article-extraction
    benchmarks (trafilatura's evaluation, Bevendorff et al. 2023)."""
    p, t = Counter(title_tokens(predicted)), Counter(title_tokens(truth))
    common = sum((p & t).values())
    if not common:
        return 0.0
    precision, recall = common / sum(p.values()), common / sum(t.values())
    return 2 * precision * recall / (precision + recall)


def title_matches(predicted: str | None, truth: str, *, threshold: float = 0.8) -> bool:
    """True when an extracted title is the document's title.

    Accepted: token F1 >= ``threshold`` against the truth or against the truth without its
    parenthetical notes (annotators add "(CP 1224)", "(page 1)"), or an exact match of the main
    title before a colon when one side adds a subtitle and the other does not.
    """
    if not predicted:
        return False
    bare = PARENTHETICAL_RE.sub("", truth)
    if max(token_f1(predicted, truth), token_f1(predicted, bare)) >= threshold:
        return True
    # a subtitle present on one side only: the main titles (before the colon) must agree
    truth_main, predicted_main = bare.split(":")[0], predicted.split(":")[0]
    if ":" in bare and title_tokens(predicted) == title_tokens(truth_main):
        return True
    return ":" in predicted and title_tokens(predicted_main) == title_tokens(bare)


def token_precision_recall_f1(predicted: str, truth: str) -> tuple[float, float, float]:
    """Bag-of-tokens (casefolded ``\\w+``) precision, recall and F1 of an extracted text against
    the expected text; the article-extraction benchmark's token-level measure. An empty
    prediction scores (0, 0, 0); an empty truth with an empty prediction scores (1, 1, 1)."""
    p, t = Counter(title_tokens(predicted)), Counter(title_tokens(truth))
    if not p and not t:
        return 1.0, 1.0, 1.0
    common = sum((p & t).values())
    if not common:
        return 0.0, 0.0, 0.0
    precision, recall = common / sum(p.values()), common / sum(t.values())
    return precision, recall, 2 * precision * recall / (precision + recall)
