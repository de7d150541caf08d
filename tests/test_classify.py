"""The classifier on the demo's own texts with the real model and taxonomy; gold files, metrics and
the supervised model on hand-made data whose right answers are known."""

from __future__ import annotations

import pytest

import numpy as np

from classify.classifier import TaxonomyClassifier
from classify.evaluation import GoldError, file_key, match_gold, read_gold, score_facet, score_kind
from classify.features import FEATURES, document_vector, keyword_hits, keyword_words, word_ngrams
from classify.supervised import (DOC_MIN_POSITIVES, KindExamples, ModelError, TrainedModel, assigned_labels,
                                 cross_validated_predictions, train_kind)
from classify.zero_shot import zero_shot_scores
from config.settings import CONFIG_DIR, ClassificationSettings
from config.taxonomy import load_taxonomy
from demo.content import get
from index.chunking import chunk_pages
from core.models import Page


@pytest.fixture(scope="module")
def classifier(embedder):
    return TaxonomyClassifier(load_taxonomy(CONFIG_DIR / "taxonomy.yaml"), embedder,
                              ClassificationSettings(method="zero_shot"))


def _classify(classifier, text):
    chunks = chunk_pages([Page(number=1, text=text)], max_words=180, overlap_words=30)
    texts = [c.text for c in chunks]
    return classifier.classify(texts, classifier.embedder.encode(texts))


def test_data_sharing_post_gets_data_theme_with_evidence(classifier):
    post = get("harrowfield-council-nhs-data-sharing")
    result = _classify(classifier, " ".join(text for _, text in post.sections))
    themes = {label.id: label for label in result.themes}
    assert "T9" in themes
    assert themes["T9"].passages and themes["T9"].terms
    assert all(0 < label.score <= 1.2 for label in result.themes + result.policy_areas)


def test_off_topic_text_gets_no_labels(classifier):
    text = ("The new graphics card renders games at four thousand pixels. Overclocking the memory gives "
            "another ten frames per second, and the cooler stays quiet under load. ") * 5
    result = _classify(classifier, text)
    assert result.policy_areas == [] and result.themes == []


def test_empty_document_gets_no_labels(classifier):
    import numpy as np

    result = classifier.classify([], np.zeros((0, 384), np.float32))
    assert result.themes == [] and result.policy_areas == [] and result.evidence_types == []


def test_trial_report_gets_the_rct_design_with_its_terms(classifier):
    text = ("We ran a cluster randomised controlled trial in 48 schools. Schools were randomly allocated to the "
            "mentoring programme or to a control group, and attendance was compared after one year. ") * 4
    result = _classify(classifier, text)
    designs = {label.id: label for label in result.evidence_types}
    assert "E1" in designs
    assert "randomised controlled trial" in designs["E1"].terms


def test_text_without_a_research_design_gets_the_descriptive_fallback(classifier):
    text = ("The council will open two new family hubs in the spring. Parents can drop in on weekdays for advice "
            "about childcare, health visiting and benefits. ") * 4
    result = _classify(classifier, text)
    assert [label.id for label in result.evidence_types] == ["E7"]
    assert result.evidence_types[0].uncertain


def test_themes_need_the_document_to_be_about_collaboration(classifier):
    text = ("Trust in the new pension scheme has fallen. The funding formula and its governance are explained in "
            "the annex, with data on payments and an evaluation of the call centre's performance. ") * 5
    assert _classify(classifier, text).themes == []


def test_keywords_are_counted_as_word_sequences_with_plurals():
    grams = word_ngrams("Multi-agency safeguarding hubs and a multi agency safeguarding hub; co-production.")
    assert keyword_hits(keyword_words("multi-agency safeguarding hub"), grams) == 2
    assert keyword_hits(keyword_words("co-production"), grams) == 1
    assert keyword_hits(keyword_words("production"), grams) == 1
    assert keyword_hits(keyword_words("agency hub"), grams) == 0


def test_multilabel_metrics_hold_hand_computed_values():
    gold = [frozenset({"A"}), frozenset({"A", "B"}), frozenset()]
    predicted = [frozenset({"A"}), frozenset({"B"}), frozenset({"B"})]
    m = score_kind(gold, predicted, ["A", "B", "C"])
    assert (m.per_label["A"].precision, m.per_label["A"].recall, m.per_label["A"].f1) == (1.0, 0.5, 0.6667)
    assert (m.per_label["B"].precision, m.per_label["B"].recall, m.per_label["B"].f1) == (0.5, 1.0, 0.6667)
    assert m.per_label["C"].support == 0
    assert m.micro_f1 == 0.6667 and m.macro_f1 == 0.6667  # C (no support) is left out of the macro average


def test_single_valued_facets_score_as_one_label_sets_and_micro_f1_is_accuracy(tmp_path):
    m = score_facet(["news", "news", "report", "web_page"], ["web_page", "news", "report", "web_page"])
    assert m.micro_f1 == m.micro_precision == m.micro_recall == 0.75  # 3 of 4 right
    assert (m.per_label["news"].precision, m.per_label["news"].recall, m.per_label["news"].f1) == (1.0, 0.5, 0.6667)
    assert (m.per_label["web_page"].precision, m.per_label["web_page"].f1) == (0.5, 0.6667)
    assert m.macro_f1 == round((0.6667 + 1.0 + 0.6667) / 3, 4)
    with pytest.raises(ValueError, match="2 gold values but 1 predictions"):
        score_facet(["a", "b"], ["a"])
    gold = tmp_path / "gold.csv"
    gold.write_text("file,policy_areas,doc_type,language\na.pdf,P1,Report,EN\nb.pdf,P1,,\n", encoding="utf-8")
    rows = read_gold(gold, {"policy_areas": {"P1"}})
    assert rows[0].facets == {"doc_type": "report", "language": "en"} and rows[1].facets == {}


def test_gold_rows_match_documents_by_file_name(tmp_path):
    gold = tmp_path / "gold.csv"
    gold.write_text("file,policy_areas,themes\ndocs/My%20Report.pdf,P1;P2,T4\ndocs/gone.html,,\n", encoding="utf-8")
    rows = read_gold(gold, {"policy_areas": {"P1", "P2"}, "themes": {"T4"}})
    assert rows[0].labels["policy_areas"] == frozenset({"P1", "P2"}) and rows[1].labels["themes"] == frozenset()
    matched, missing = match_gold(rows, {"d1": ["http://host/files/My%20Report.pdf?x=1"], "d2": ["file:///a/b.html"]})
    assert list(matched) == ["d1"] and missing == ["docs/gone.html"]
    assert file_key("C:\\files\\report.pdf") == "report.pdf"


@pytest.mark.parametrize("content, message", [
    ("name,policy_areas\nx.pdf,P1\n", "needs a 'file' column"),
    ("file,policy_areas\nx.pdf,P1\ndocs/x.pdf,P2\n", "appears twice"),
    ("file,policy_areas\nx.pdf,P42\n", "unknown policy_areas ids ['P42']"),
])
def test_bad_gold_files_are_clear_errors(tmp_path, content, message):
    gold = tmp_path / "gold.csv"
    gold.write_text(content, encoding="utf-8")
    with pytest.raises(GoldError, match=message.replace("[", r"\[").replace("]", r"\]")):
        read_gold(gold, {"policy_areas": {"P1", "P2"}})


def _separable_examples(n_docs=30, n_labels=4, seed=0):
    """Documents whose gold labels are exactly the labels with a high first feature."""
    rng = np.random.default_rng(seed)
    features = rng.normal(0, 0.05, (n_docs, n_labels, len(FEATURES))).astype(np.float32)
    gold = np.zeros((n_docs, n_labels), dtype=int)
    for d in range(n_docs):
        for j in rng.choice(n_labels, size=1 + d % 2, replace=False):
            gold[d, j] = 1
            features[d, j, 0] += 1.0
    return KindExamples(features, gold, [f"P{j + 1}" for j in range(n_labels)], [f"doc{d}" for d in range(n_docs)])


def test_supervised_model_learns_separable_labels_under_cross_validation():
    examples = _separable_examples()
    predicted = cross_validated_predictions(examples, folds=5)
    assert (predicted == examples.gold).all()


def test_assigned_labels_are_the_most_probable_above_their_thresholds():
    probabilities = np.array([0.6, 0.9, 0.2, 0.7, 0.7])
    thresholds = np.array([0.5, 0.95, 0.1, 0.5, 0.5])
    assert assigned_labels(probabilities, thresholds).tolist() == [3, 4, 0, 2]
    assert assigned_labels(probabilities, thresholds, max_labels=2).tolist() == [3, 4]
    assert assigned_labels(probabilities, np.ones(5)).tolist() == []
    with pytest.raises(ValueError, match="max_labels must be at least 1"):
        assigned_labels(probabilities, thresholds, max_labels=0)


def test_cross_validated_predictions_keep_at_most_max_labels():
    examples = _separable_examples()  # gold: 1 or 2 labels per document
    uncapped = cross_validated_predictions(examples, folds=5)
    capped = cross_validated_predictions(examples, folds=5, max_labels=1)
    assert (uncapped == examples.gold).all()
    assert (capped.sum(axis=1) == 1).all() and (capped <= uncapped).all()
    one = examples.gold.sum(axis=1) == 1
    assert (capped[one] == examples.gold[one]).all() and not one.all()


def test_max_labels_can_be_set_per_kind():
    settings = ClassificationSettings(max_labels=3, max_labels_by_kind={"themes": 6})
    assert [settings.max_labels_of(k) for k in ("themes", "policy_areas", "evidence_types")] == [6, 3, 3]
    with pytest.raises(ValueError, match="themes"):
        ClassificationSettings(max_labels_by_kind={"topics": 2})
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        ClassificationSettings(max_labels_by_kind={"themes": 0})
    assert ClassificationSettings(max_labels=2, max_labels_by_kind={"themes": None}).max_labels_of("themes") == 2
    with pytest.raises(ValueError, match=r"themes: a number of labels \(1-20\) or null, not true"):
        ClassificationSettings(max_labels_by_kind={"themes": True})  # YAML `themes: yes` was 1


def test_the_shipped_theme_limit_can_be_taken_back_and_a_bad_variable_is_a_config_error(monkeypatch, tmp_path):
    from config import ConfigError, load_settings

    assert load_settings().classification.max_labels_of("themes") == 6  # shipped
    config = tmp_path / "settings.yaml"
    config.write_text("classification:\n  max_labels: 2\n  max_labels_by_kind: {themes: null}\n", encoding="utf-8")
    assert load_settings(config).classification.max_labels_of("themes") == 2
    monkeypatch.setenv("EVIDENCE_HUB_CLASSIFICATION__MAX_LABELS_BY_KIND", '{"themes": 3}')
    assert load_settings(config).classification.max_labels_of("themes") == 3
    monkeypatch.setenv("EVIDENCE_HUB_CLASSIFICATION__MAX_LABELS_BY_KIND", "{themes: 3}")  # not JSON
    with pytest.raises(ConfigError, match=r"environment \(EVIDENCE_HUB_\* variables\).*classification.*JSON"):
        load_settings()


def test_the_classifier_keeps_at_most_max_labels_of_a_kind(classifier):
    post = get("harrowfield-council-nhs-data-sharing")
    text = " ".join(body for _, body in post.sections)
    themes = _classify(classifier, text).themes
    assert len(themes) >= 2
    one = TaxonomyClassifier(classifier.taxonomy, classifier.embedder,
                             ClassificationSettings(method="zero_shot", max_labels_by_kind={"themes": 1}))
    result = _classify(one, text)
    assert [label.id for label in result.themes] == [themes[0].id]  # the best-scoring one
    assert result.policy_areas == _classify(classifier, text).policy_areas  # other kinds keep max_labels


def test_trained_model_round_trips_and_damaged_files_are_clear_errors(tmp_path):
    model = TrainedModel(kinds={"policy_areas": train_kind(_separable_examples(), folds=3)}, trained_on=30)
    path = tmp_path / "m.joblib"
    model.save(path)
    again = TrainedModel.load(path)
    assert again.trained_on == 30 and 0 < again.kinds["policy_areas"].threshold < 1
    path.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="cannot read the trained classifier"):
        TrainedModel.load(path)
    with pytest.raises(ModelError, match="no trained classifier"):
        TrainedModel.load(tmp_path / "absent.joblib")


def test_policy_area_zero_shot_weights_the_documents_opening(classifier):
    """A housing strategy with a long passage on schools: weighting the lead (first chunk) moves the
    housing area further ahead of education than the top-3 chunks alone do."""
    texts = ["Homelessness and housing strategy 2024. This strategy sets out how the council will prevent "
             "homelessness, end rough sleeping and increase the supply of affordable social housing.",
             *["Schools and teachers: pupils' attainment, attendance and exclusions in primary and secondary "
               "schools, the curriculum and the pupil premium." for _ in range(4)]]
    evidence = classifier.evidence(texts, classifier.embedder.encode(texts))["policy_areas"]
    ids = [label.id for label in classifier.profiles["policy_areas"].labels]
    plain = zero_shot_scores(evidence, classifier.settings)
    lead = zero_shot_scores(evidence, classifier.settings, lead_weight=0.4)
    housing, schools = ids.index("P6"), ids.index("P4")
    assert evidence.features[housing, FEATURES.index("lead_sim")] > evidence.features[schools, FEATURES.index("lead_sim")]
    assert lead[housing] - lead[schools] > plain[housing] - plain[schools]
    with pytest.raises(ValueError, match="lead_weight"):
        zero_shot_scores(evidence, classifier.settings, lead_weight=1.5)


def test_document_vector_is_the_unit_mean_of_all_chunks_then_of_the_lead():
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]], dtype=np.float32)
    vector = document_vector(vectors)
    assert vector.shape == (4,)
    np.testing.assert_allclose(vector, [1 / 5 ** 0.5, 2 / 5 ** 0.5, 2 ** -0.5, 2 ** -0.5], rtol=1e-6)
    with pytest.raises(ValueError, match="at least one chunk vector"):
        document_vector(np.zeros((0, 2), np.float32))


def _doc_vector_examples(n_docs=40, n_labels=3, seed=1):
    """Label features that are pure noise; the document vectors carry the gold labels."""
    rng = np.random.default_rng(seed)
    features = rng.normal(0, 1.0, (n_docs, n_labels, len(FEATURES))).astype(np.float32)
    gold = np.zeros((n_docs, n_labels), dtype=int)
    gold[np.arange(n_docs), np.arange(n_docs) % n_labels] = 1
    doc_vectors = (gold * 1.0 + rng.normal(0, 0.05, gold.shape)).astype(np.float32)
    return KindExamples(features, gold, [f"P{j + 1}" for j in range(n_labels)], [f"doc{d}" for d in range(n_docs)],
                        doc_vectors=doc_vectors)


def test_document_model_learns_what_the_label_features_miss():
    examples = _doc_vector_examples()
    assert examples.gold.sum(axis=0).min() >= DOC_MIN_POSITIVES
    with_documents = cross_validated_predictions(examples, folds=5)
    pair_only = cross_validated_predictions(KindExamples(examples.features, examples.gold, examples.label_ids,
                                                         examples.doc_keys), folds=5)
    # 120 (document, label) cells: measured 9 wrong with document vectors (3 before the pair model read
    # the three lead features: more noise columns for it to fit), 79 wrong from the noise alone
    assert (with_documents != examples.gold).sum() <= 12
    assert (pair_only != examples.gold).sum() >= 40


def test_trained_document_models_round_trip_and_follow_label_ids(tmp_path):
    examples = _doc_vector_examples()
    model = TrainedModel(kinds={"policy_areas": train_kind(examples, folds=3)}, trained_on=40)
    model.save(tmp_path / "m.joblib")
    kind = TrainedModel.load(tmp_path / "m.joblib").kinds["policy_areas"]
    assert sorted(kind.doc_models) == ["P1", "P2", "P3"] and kind.label_ids == ["P1", "P2", "P3"]
    doc = examples.doc_vectors[0]  # gold P1
    probs = kind.probabilities(examples.features[0], doc)
    assert probs.shape == (3,) and probs.argmax() == 0
    # rows named differently (a label added to the taxonomy later): only known ids get the document model
    renamed = kind.probabilities(examples.features[0], doc, ["P9", "P2", "P3"])
    assert renamed[0] == pytest.approx(kind.probabilities(examples.features[0])[0])
    with pytest.raises(ValueError, match="feature rows"):
        kind.probabilities(examples.features[0], doc, ["P1", "P2"])
