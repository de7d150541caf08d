"""`evidence-hub eval classify`, `train-classifier` and `reclassify` on an index of the project's own
demo documents (real model, real embedded index, the real CLI in-process)."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml
from typer.testing import CliRunner

from cli.main import app
from config.settings import CONFIG_DIR
from core.models import IndexedDocument, Page
from demo.content import POSTS, REPORTS
from index.chunking import chunk_pages
from index.embedded import EmbeddedIndex

# Gold labels for the demo documents (written for these tests from the documents' own subjects).
DEMO_GOLD = {
    "ashcombe-family-hub-year-one": ("P1", "T11;T12"),
    "kellingford-home-by-friday-discharge-pilot": ("P2", "T11"),
    "westerholm-homelessness-panel": ("P6", "T4"),
    "lowmere-violence-reduction-partnership": ("P7", "T9"),
    "paying-experts-by-experience-properly": ("P12", "T5"),
    "harrowfield-council-nhs-data-sharing": ("P2", "T9"),
    "saltmere-connections-loneliness-network": ("P9", "T12"),
    "harrowfield-pooled-budget-evaluation": ("P2", "T8"),
    "brackenvale-anti-poverty-interim-findings": ("P8", "T6"),
    "eastmere-youth-employment-partnership": ("P3", "T11"),
    "who-holds-the-pen-partnership-boards": ("P14", "T4"),
}
runner = CliRunner()


def _url(document) -> str:
    folder, ext = ("posts", "html") if document.kind == "post" else ("reports", "pdf")
    return f"http://demo.test/{folder}/{document.slug}.{ext}"


@pytest.fixture(scope="module")
def hub(tmp_path_factory, embedder):
    """A data directory whose embedded index holds the demo documents, unlabelled, and a gold CSV."""
    home = tmp_path_factory.mktemp("classify-hub")
    index = EmbeddedIndex(home / "index.sqlite", embedder.dimension)
    for document in POSTS + REPORTS:
        text = document.summary + "\n\n" + "\n\n".join(f"{h}\n{body}" for h, body in document.sections)
        chunks = chunk_pages([Page(number=1, text=text)], max_words=180, overlap_words=30)
        vectors = embedder.encode([c.text for c in chunks])
        doc = IndexedDocument(id=document.slug[:20], url=_url(document), source="demo", content_hash=document.slug,
                              title=document.title, text=text, word_count=len(text.split()))
        index.upsert(doc, chunks, vectors, embedder.encode([document.title])[0])
    index.close()
    gold = home / "gold.csv"
    rows = ["file,policy_areas,themes,doc_type,language,notes"]
    rows += [f"docs/{_url(d).rsplit('/', 1)[1]},{DEMO_GOLD[d.slug][0]},{DEMO_GOLD[d.slug][1]},report,en,"
             for d in POSTS + REPORTS]
    gold.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return home, gold


@pytest.fixture()
def env(hub, monkeypatch):
    home, _ = hub
    monkeypatch.setenv("EVIDENCE_HUB_HOME", str(home))
    return home


def _labels(home, kind):
    index = EmbeddedIndex(home / "index.sqlite", 384)
    try:
        return {doc_id: [l.id for l in getattr(index.get(doc_id), kind)] for doc_id in index.ids()}
    finally:
        index.close()


def test_eval_classify_json_has_the_issue_shape_and_counts_support(hub, env):
    _, gold = hub
    result = runner.invoke(app, ["eval", "classify", "--gold", str(gold), "--json", "--method", "zero_shot"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["matched"] == 11 and report["unmatched"] == []
    for kind in ("policy_areas", "themes"):
        assert {"micro_f1", "macro_f1", "per_label"} <= set(report[kind])
        assert 0.0 <= report[kind]["macro_f1"] <= 1.0
    assert report["policy_areas"]["per_label"]["P2"]["support"] == 3
    assert report["policy_areas"]["per_label"]["P5"]["support"] == 0
    assert set(report["policy_areas"]["per_label"]["P1"]) == {"precision", "recall", "f1", "support"}
    # The zero-shot classifier finds the obvious subject of each document (the gold gives one policy
    # area each; the classifier may add related ones, so precision is lower than recall).
    assert report["policy_areas"]["micro_recall"] >= 0.8 and report["policy_areas"]["micro_f1"] >= 0.4
    # the gold's doc_type / language columns are scored too: these test documents were indexed
    # without either (doc_type "other", no language), so every judged value is missed
    assert report["doc_type"]["per_label"]["report"]["support"] == 11 and report["doc_type"]["micro_f1"] == 0.0
    assert report["doc_type"]["per_label"]["other"]["precision"] == 0.0
    assert report["language"]["per_label"]["en"]["recall"] == 0.0 and "none" in report["language"]["per_label"]


def test_eval_classify_prints_a_table(hub, env):
    _, gold = hub
    result = runner.invoke(app, ["eval", "classify", "--gold", str(gold), "--method", "zero_shot"])
    assert result.exit_code == 0, result.output
    assert "Policy areas" in result.stdout and "macro average" in result.stdout and "Themes" in result.stdout
    assert "Document type" in result.stdout and "Language" in result.stdout


def test_eval_classify_rejects_unknown_label_ids(hub, env, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("file,policy_areas,themes\ndocs/x.pdf,P99,\n", encoding="utf-8")
    result = runner.invoke(app, ["eval", "classify", "--gold", str(bad)])
    assert result.exit_code == 2
    assert "unknown policy_areas ids ['P99']" in result.stderr


def test_eval_classify_without_matching_documents_is_a_clear_error(hub, env, tmp_path):
    other = tmp_path / "other.csv"
    other.write_text("file,policy_areas,themes\ndocs/not-here.pdf,P1,\n", encoding="utf-8")
    result = runner.invoke(app, ["eval", "classify", "--gold", str(other)])
    assert result.exit_code == 1
    assert "none of the 1 gold files is in the index" in result.stderr
    header_only = tmp_path / "empty.csv"  # break-it: read "none of the 0 gold files is in the index"
    header_only.write_text("file,policy_areas,themes\n", encoding="utf-8")
    result = runner.invoke(app, ["eval", "classify", "--gold", str(header_only)])
    assert result.exit_code == 2 and "has no gold rows" in result.stderr


def test_train_classifier_saves_a_model_and_reports_cross_validated_figures(hub, env):
    _, gold = hub
    result = runner.invoke(app, ["train-classifier", str(gold), "--folds", "3", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["trained_on"] == 11
    assert (env / "models" / "classifier.joblib").is_file()
    assert report["policy_areas"]["documents"] == 11 and "macro_f1" in report["themes"]
    cv = runner.invoke(app, ["eval", "classify", "--gold", str(gold), "--cv", "3", "--json"])
    assert cv.exit_code == 0, cv.output
    assert json.loads(cv.stdout)["method"] == "supervised, 3-fold cross-validated"
    # fresh-user report: 4 documents with --cv 5 were reported as "5-fold"; the split has 4 folds
    many = runner.invoke(app, ["eval", "classify", "--gold", str(gold), "--cv", "20", "--json"])
    assert many.exit_code == 0, many.output
    assert json.loads(many.stdout)["method"] == "supervised, 11-fold cross-validated (--cv 20: 11 documents)"
    supervised = runner.invoke(app, ["eval", "classify", "--gold", str(gold), "--method", "supervised", "--json"])
    assert supervised.exit_code == 0 and json.loads(supervised.stdout)["method"] == "supervised"
    (env / "models" / "classifier.joblib").unlink()
    missing = runner.invoke(app, ["eval", "classify", "--gold", str(gold), "--method", "supervised"])
    assert missing.exit_code == 1 and "no trained classifier" in missing.stderr


def test_reclassify_follows_a_taxonomy_edit_without_any_fetch(hub, env, tmp_path, monkeypatch):
    first = runner.invoke(app, ["reclassify", "--method", "zero_shot", "--json"])
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert summary["documents"] == 11 and summary["labelled"]["policy_areas"] >= 8
    before = _labels(env, "policy_areas")
    assert any("P6" in ids for ids in before.values())
    # Edit the taxonomy: housing becomes "marine biology" with no keywords.
    taxonomy = yaml.safe_load((CONFIG_DIR / "taxonomy.yaml").read_text(encoding="utf-8"))
    for label in taxonomy["policy_areas"]:
        if label["id"] == "P6":
            label.update(label="Marine biology", description="Coral reefs, plankton and deep-sea fish.",
                         keywords=["coral reef"], examples=[])
    edited = tmp_path / "taxonomy.yaml"
    edited.write_text(yaml.safe_dump(taxonomy, sort_keys=False), encoding="utf-8")
    monkeypatch.setenv("EVIDENCE_HUB_TAXONOMY_FILE", str(edited))
    second = runner.invoke(app, ["reclassify", "--method", "zero_shot", "--json"])
    assert second.exit_code == 0, second.output
    assert json.loads(second.stdout)["changed"] >= 1
    after = _labels(env, "policy_areas")
    assert not any("P6" in ids for ids in after.values())
    assert not (env / "registry.sqlite").exists()  # nothing was crawled or fetched


def test_evidence_types_are_a_facet_of_their_own(hub, env):
    result = runner.invoke(app, ["reclassify", "--method", "zero_shot", "--json"])
    assert result.exit_code == 0, result.output
    types = _labels(env, "evidence_types")
    assert all(len(ids) >= 1 for ids in types.values())  # a design, or the descriptive fallback
    assert set().union(*types.values()) <= {f"E{i}" for i in range(1, 8)}


def test_search_filters_by_evidence_type_and_counts_facets(hub, env):
    assert runner.invoke(app, ["reclassify", "--method", "zero_shot"]).exit_code == 0
    result = runner.invoke(app, ["search", "partnership", "--mode", "bm25", "--evidence-type", "E7",
                                 "--facet", "policy_area", "--facet", "evidence_type", "--json"])
    assert result.exit_code == 0, result.output
    response = json.loads(result.stdout)
    assert response["results"]
    for hit in response["results"]:
        assert "E7" in [label["id"] for label in hit["evidence_types"]]
    assert [v["value"] for v in response["facets"]["evidence_type"]] == ["E7"]
    assert sum(v["count"] for v in response["facets"]["evidence_type"]) == response["total"]
    assert response["facets"]["policy_area"] and all(v["count"] >= 1 for v in response["facets"]["policy_area"])
