"""Documents in a language the embedding model does not read are labelled from the taxonomy's
keywords in their language (classification.model_languages, keywords_by_language), with the real
model, the shipped taxonomy and texts written for these tests."""

from __future__ import annotations

import numpy as np
import pytest

from classify.classifier import TaxonomyClassifier, base_language, independent_hits, keyword_passages
from classify.features import word_ngrams
from classify.zero_shot import keyword_only_scores
from config.errors import ConfigError
from config.settings import CONFIG_DIR, ClassificationSettings
from config.taxonomy import Taxonomy, load_taxonomy

GERMAN_SCHOOLS = (
    "Der Stadtrat hat beschlossen, zwei Schulen zu sanieren. Die Schüler der Grundschule lernen seit "
    "Jahren in Containern. Die Lehrkräfte und die Eltern begrüßen die Entscheidung; der Unterricht soll "
    "im Herbst in den neuen Räumen beginnen. Auch die Bildung der Kinder im Ganztag wird gestärkt, "
    "sagte die Schulleiterin. Die Schulen bekommen neue Klassenräume und einen Schulhof."
)
FRENCH_HOUSING = (
    "Le conseil a examiné la situation du logement dans la ville. Le nombre de sans-abri a augmenté et "
    "l'hébergement d'urgence est saturé. Les locataires du parc social attendent des années; le loyer "
    "moyen a doublé. La ville veut construire du logement social et prévenir chaque expulsion. "
    "Le logement abordable reste la priorité."
)


@pytest.fixture(scope="module")
def classifier(embedder):
    return TaxonomyClassifier(load_taxonomy(CONFIG_DIR / "taxonomy.yaml"), embedder,
                              ClassificationSettings(method="zero_shot"))


def _classify(classifier, text, language):
    chunks = [text]
    return classifier.classify(chunks, classifier.embedder.encode(chunks), language)


def test_model_languages_decide_which_documents_are_read(classifier):
    assert classifier.reads("en") and classifier.reads("en-GB") and classifier.reads("EN_us")
    assert classifier.reads(None) and classifier.reads("")  # unknown: treated as read, as before
    assert not classifier.reads("de") and not classifier.reads("fr-CA")
    assert base_language(" pt-BR ") == "pt"


def test_german_page_gets_its_policy_area_from_german_keywords(classifier):
    result = _classify(classifier, GERMAN_SCHOOLS, "de")
    areas = {label.id: label for label in result.policy_areas}
    assert set(areas) == {"P4"}, areas  # P1's 'Kinder'/'Eltern' have fewer than half of P4's hits
    p4 = areas["P4"]
    assert p4.uncertain and p4.score >= 0.5
    assert {"Schulen", "Schüler", "Lehrkräfte", "Unterricht", "Bildung"} <= set(p4.terms)
    assert p4.passages and "Schulen" in p4.passages[0]
    assert result.themes == []  # not about collaboration: no German scope keywords
    assert [e.id for e in result.evidence_types] == ["E7"] and result.evidence_types[0].uncertain


GERMAN_TRIAL = (
    "In einer randomisierten kontrollierten Studie wurden 40 Schulen zufällig zugeteilt: 20 Schulen erhielten "
    "das Mentoring-Programm, 20 bildeten die Kontrollgruppe. Nach einem Jahr wurde die Anwesenheit der "
    "Schülerinnen und Schüler in der Interventionsgruppe mit der Kontrollgruppe verglichen. Die Randomisierung "
    "erfolgte auf Ebene der Schulen."
)
FRENCH_INTERVIEWS = (
    "Cette étude qualitative repose sur des entretiens semi-directifs avec 24 travailleurs sociaux et sur deux "
    "groupes de discussion avec des parents. Les entretiens ont fait l'objet d'une analyse thématique. Les "
    "professionnels ont été interrogés sur leur travail avec les familles et les écoles."
)


def test_german_and_french_studies_get_their_design_from_keywords_in_their_language(classifier):
    trial = _classify(classifier, GERMAN_TRIAL, "de").evidence_types
    assert [e.id for e in trial] == ["E1"], trial
    assert trial[0].uncertain and len(trial[0].terms) >= 2 and "Kontrollgruppe" in trial[0].terms
    interviews = _classify(classifier, FRENCH_INTERVIEWS, "fr").evidence_types
    assert [e.id for e in interviews] == ["E4"], interviews
    assert {"entretiens semi-directifs", "analyse thématique"} <= set(interviews[0].terms)
    # a single design word is not a design: the descriptive fallback, as for the school news above
    one_word = "Die Stadt plant eine Kontrollgruppe für den Verkehr. " + GERMAN_SCHOOLS
    assert [e.id for e in _classify(classifier, one_word, "de").evidence_types] == ["E7"]


NEWS_NAMING_METHOD_WORDS = [  # each once gave a design from everyday words (a break-it run, 2026-12-02)
    ('de_news_budget', 'de',
     'Der Gemeinderat hat am Dienstag den Haushalt für das kommende Jahr beschlossen. Der Kämmerer '
     'kündigte Einsparungen in der Verwaltung an, die Grundsteuer bleibt unverändert. Umstritten war '
     'das neue Hallenbad: Die Wirtschaftlichkeit des Projekts soll ein Gutachter noch einmal prüfen. '
     'Die Opposition kritisierte die Einsparungen bei den Jugendzentren und forderte mehr Geld für '
     'Schulen.'),
    ('de_news_kita', 'de',
     'Die Landesregierung will die Kitas qualitativ und quantitativ ausbauen. Neben 5.000 zusätzlichen '
     'Plätzen sind qualitative Verbesserungen geplant, etwa kleinere Gruppen und mehr Zeit für '
     'Leitungsaufgaben. Die Gewerkschaft begrüßte den qualitativen Ausbau, warnte aber vor dem '
     'Fachkräftemangel. Das Gesetz soll im Sommer in Kraft treten.'),
    ('de_news_zoll', 'de',
     'Eine Kontrollgruppe des Zolls hat am Mittwoch zwölf Baustellen in der Innenstadt überprüft. Die '
     'Baustellen waren der Kontrollgruppe zufällig zugewiesen worden, teilte das Hauptzollamt mit. Bei '
     'drei Firmen fanden die Beamten Hinweise auf Schwarzarbeit und Verstöße gegen den Mindestlohn. '
     'Die Ermittlungen dauern an.'),
    ('de_policy_begleitung', 'de',
     'Mit dem neuen Landesprogramm sollen Jugendämter, Schulen und Vereine enger zusammenarbeiten. Das '
     'Ministerium stellt dafür drei Millionen Euro bereit. Eine wissenschaftliche Begleitung ist '
     'vorgesehen; erste Lessons Learned aus dem Vorgängerprogramm sind in die Förderrichtlinie '
     'eingeflossen. Anträge können bis Ende März gestellt werden.'),
    ('de_news_forschung', 'de',
     'Die Universität stellt ihre neue Forschungsstrategie vor. Der Forschungsstand zur Pflege sei '
     'lückenhaft, sagte die Präsidentin; eine erste Literaturrecherche der Studierenden habe das '
     'gezeigt. Die Hochschule will deshalb zwei neue Professuren für Pflegewissenschaft einrichten und '
     'enger mit den Kliniken der Region zusammenarbeiten.'),
    ('fr_news_convention', 'fr',
     'La Convention citoyenne sur la fin de vie a rendu ses conclusions dimanche. Ses 184 membres, '
     'tirés au sort parmi les électeurs, ont siégé pendant quatre mois. Le tirage au sort garantit '
     'selon les organisateurs une diversité de profils. Le gouvernement promet un projet de loi avant '
     "l'été."),
    ('fr_news_budget', 'fr',
     'Le conseil municipal a adopté le budget mardi soir. Le maire promet des économies budgétaires de '
     "deux millions d'euros, notamment sur l'éclairage public. L'opposition conteste le retour sur "
     'investissement du nouveau stade et réclame davantage de moyens pour les écoles et les crèches. '
     'Le vote a été acquis à une large majorité.'),
    ('fr_news_qual', 'fr',
     "Le ministère annonce une amélioration qualitative de l'accueil en crèche: des groupes plus "
     'petits et davantage de formation. Les syndicats saluent ce virage qualitatif mais rappellent le '
     'manque de professionnels. Le décret sera publié à la rentrée.'),
    ('fr_univ_strategy', 'fr',
     "L'université présente sa nouvelle stratégie de recherche pour la période 2025-2030. Elle veut "
     "consolider l'état de l'art dans trois domaines prioritaires: le climat, la santé et le "
     'numérique. La présidente a annoncé le recrutement de vingt enseignants-chercheurs et un '
     'partenariat avec le CNRS.'),
]


@pytest.mark.parametrize("name,language,text", NEWS_NAMING_METHOD_WORDS, ids=[row[0] for row in NEWS_NAMING_METHOD_WORDS])
def test_news_using_words_of_a_method_gets_no_design(classifier, name, language, text):
    """Customs 'Kontrollgruppe', a citizens' assembly 'tiré au sort', 'qualitativ' improvements,
    'Einsparungen' and 'Wirtschaftlichkeit' in a budget: none is a study design."""
    assert [e.id for e in _classify(classifier, text, language).evidence_types] == ["E7"]


def test_french_page_gets_housing(classifier):
    areas = _classify(classifier, FRENCH_HOUSING, "fr").policy_areas
    assert [a.id for a in areas] == ["P6"]
    assert {"logement", "sans-abri", "locataires", "loyer", "expulsion"} <= set(areas[0].terms)


def test_the_same_german_text_read_as_english_goes_through_the_model(classifier):
    """Declared English, the text is scored by embeddings plus English keywords (none of which are in
    it): no keyword-only label, whatever the model makes of it."""
    for label in _classify(classifier, GERMAN_SCHOOLS, "en").policy_areas:
        assert not {"Schulen", "Schüler"} & set(label.terms)


def test_a_language_without_keywords_goes_through_the_model(classifier):
    """No Italian keywords in the taxonomy: the page is classified as before (by the model), not
    emptied of labels."""
    text = "La scuola e la casa sono importanti per le famiglie. " * 20
    assert not classifier.by_keywords("it") and classifier.by_keywords("de") and not classifier.by_keywords("en")
    assert _classify(classifier, text, "it") == _classify(classifier, text, None)


def test_bilingual_welsh_english_page_keeps_its_english_evidence(classifier):
    """UK public bodies publish Welsh and English side by side; detection may say 'cy'. Without Welsh
    keywords the page goes through the model and keeps the labels its English half earns."""
    english = ("The council's children's services and the health board run a family support service for "
               "parents of young children, with early help, safeguarding and child protection advice. ")
    welsh = ("Mae gwasanaethau plant y cyngor a'r bwrdd iechyd yn cynnal gwasanaeth cymorth i deuluoedd "
             "ar gyfer rhieni plant ifanc, gyda chymorth cynnar a chyngor diogelu. ")
    text = (welsh + english) * 4
    result = _classify(classifier, text, "cy")
    assert result == _classify(classifier, text, "en")
    assert "P1" in {a.id for a in result.policy_areas}


def test_bilingual_english_french_report_called_french_keeps_the_model(classifier):
    """Canadian federal reports print English and French side by side; document-level identification
    may say 'fr'. With half its words in English, the model labels it (MIN_MODEL_SHARE)."""
    english = ("Employment Insurance maternity and parental benefits support parents who stay home with "
               "a newborn or newly adopted child; families apply online and payments follow within weeks.")
    french = ("Les prestations de maternité et parentales de l'assurance-emploi aident les parents qui "
              "restent à la maison avec un nouveau-né ou un enfant adopté; les familles font une demande.")
    chunks = [english, french] * 3
    vectors = classifier.embedder.encode(chunks)
    assert classifier.model_language_share(chunks) == pytest.approx(0.5, abs=0.1)
    assert classifier.classify(chunks, vectors, "fr") == classifier.classify(chunks, vectors, "en")
    assert classifier.model_language_share([french] * 3) == 0.0
    assert classifier.model_language_share(["trop court"]) == 0.0  # nothing identifiable


def test_a_one_chunk_page_half_english_half_french_keeps_the_model(classifier):
    """A short bilingual page is one chunk, identified whole as French: its words are now identified
    in windows of SHARE_WINDOW_WORDS, so half of them count as English (a break-it run: share 0.0)."""
    english = ("Employment Insurance maternity and parental benefits support parents who stay home with "
               "a newborn or newly adopted child; families apply online and payments follow within weeks. ") * 2
    french = ("Les prestations de maternité et parentales de l'assurance-emploi aident les parents qui "
              "restent à la maison avec un nouveau-né ou un enfant adopté; les familles font une demande. ") * 2
    chunks = [english + french]
    assert classifier.model_language_share(chunks) == pytest.approx(0.5, abs=0.15)
    assert classifier.model_reads(chunks, "fr")
    vectors = classifier.embedder.encode(chunks)
    assert classifier.classify(chunks, vectors, "fr") == classifier.classify(chunks, vectors, "en")
    assert classifier.model_language_share([french + french]) == 0.0


def test_word_windows_cut_a_text_into_runs_of_words():
    from classify.classifier import word_windows

    assert word_windows("a b c d e f g", 3) == ["a b c", "d e f g"]  # a last run under half joins
    assert word_windows("a b c d e f g h", 3) == ["a b c", "d e f", "g h"]
    assert word_windows("  ", 3) == [] and word_windows("a", 3) == ["a"]
    with pytest.raises(ValueError, match="at least one word"):
        word_windows("a b", 0)


def test_a_keyword_inside_a_longer_one_is_not_a_second_keyword(classifier):
    """'maladie' inside 'assurance maladie' (both P2 keywords in French) is one keyword found, not two:
    a text that only mentions 'assurance maladie' gets no P2."""
    filler = "Le Sénat a débattu du sport à l'école de danse et du calendrier des matchs de la saison. " * 60
    result = _classify(classifier, filler + "L'assurance maladie rembourse. L'assurance maladie paie.", "fr")
    assert "P2" not in {a.id for a in result.policy_areas}
    hits, distinct, terms = independent_hits(
        [[("maladie", ("maladie",)), ("assurance maladie", ("assurance", "maladie")), ("Maladie", ("maladie",))]],
        word_ngrams("une maladie rare; l'assurance maladie et l'assurance maladie"))
    assert hits.tolist() == [3.0] and distinct.tolist() == [2.0] and terms == [["maladie", "assurance maladie"]]
    hits, distinct, terms = independent_hits([[("maladie", ("maladie",)), ("assurance maladie", ("assurance", "maladie"))]],
                                             word_ngrams("l'assurance maladie"))
    assert hits.tolist() == [1.0] and distinct.tolist() == [1.0] and terms == [["assurance maladie"]]


def test_one_keyword_repeated_is_not_enough(classifier):
    """'Schulen' forty times is one distinct keyword: no label (MIN_KEYWORD_ONLY_TERMS)."""
    result = _classify(classifier, "Schulen " * 40 + "und so weiter.", "de")
    assert result.policy_areas == []


def test_a_passing_mention_in_a_long_document_is_not_enough(classifier):
    """2 hits in 8,000 words: 2.5 per 10k, bonus 0.05 * ln(3.5) = 0.063, a share of 0.31 of the cap
    (< keyword_only_threshold 0.5); 300 sentences (2,400 words) would give 0.56 and the label."""
    text = " ".join(["Die Sitzung begann pünktlich und endete am Abend."] * 1000 + ["Schulen und Schüler."])
    assert _classify(classifier, text, "de").policy_areas == []


def test_collaboration_document_in_german_gets_a_theme(classifier):
    text = ("Die Partnerschaft zwischen Jugendamt, Schulen und Polizei beruht auf Zusammenarbeit. "
            "Die Partner haben eine Kooperationsvereinbarung und eine Steuerungsgruppe; die Steuerung "
            "liegt bei einem Lenkungsausschuss mit klarer Geschäftsordnung und Transparenz. "
            "Die Kooperation im Netzwerk wird jedes Jahr geprüft.") * 3
    result = _classify(classifier, text, "de")
    assert "T4" in {t.id for t in result.themes}
    assert all(t.uncertain for t in result.themes)


def test_keyword_only_scores_are_the_bonus_as_a_share_of_its_cap():
    settings = ClassificationSettings()  # weight 0.05, cap 0.2
    scores = keyword_only_scores(np.array([0.0, 1.0, 100.0]), 1000, settings)
    assert scores[0] == 0.0 and scores[2] == 1.0  # 1,000 hits per 10k words: capped
    assert scores[1] == pytest.approx(0.05 * np.log1p(10.0) / 0.2, rel=1e-6)  # 10 hits per 10k words
    with pytest.raises(ValueError):
        keyword_only_scores(np.array([1.0]), 0, settings)
    assert not keyword_only_scores(np.array([5.0]), 10, settings.model_copy(update={"keyword_cap": 0.0})).any()


def test_passages_are_the_chunks_holding_most_keywords():
    chunks = ["nichts hier", "ein Schüler", "Schulen und Schüler und Schulen", "eine Schule (no match: not a keyword)"]
    assert keyword_passages(chunks, ["Schulen", "Schüler"]) == [chunks[2], chunks[1]]
    assert keyword_passages(chunks, ["Wohnung"]) == []


def test_taxonomy_rejects_a_language_name_where_a_code_belongs(tmp_path):
    raw = load_taxonomy(CONFIG_DIR / "taxonomy.yaml").model_dump()
    raw["policy_areas"][0]["keywords_by_language"] = {"German": ["Kinder"]}
    with pytest.raises(ValueError):
        Taxonomy.model_validate(raw)
    broken = tmp_path / "taxonomy.yaml"
    broken.write_text("version: 1\nthemes: []\npolicy_areas:\n  - id: P1\n    label: x\n    description: y\n"
                      "    keywords_by_language: {DE: [Kinder]}\n")
    with pytest.raises(ConfigError, match="keywords_by_language"):
        load_taxonomy(broken)


def test_shipped_taxonomy_has_german_and_french_keywords_for_every_theme_policy_area_and_design():
    taxonomy = load_taxonomy(CONFIG_DIR / "taxonomy.yaml")
    designs = [label for label in taxonomy.labels_of("evidence_types") if label.keywords]  # E7 is the fallback
    assert len(designs) == 6
    for label in taxonomy.themes + taxonomy.policy_areas + designs:
        assert set(label.keywords_by_language) == {"de", "fr"}, label.id
        assert all(len(words) >= 5 for words in label.keywords_by_language.values()), label.id
    assert set(taxonomy.scope["themes"].keywords_by_language) == {"de", "fr"}


def test_model_languages_are_checked_and_read_from_the_environment(monkeypatch):
    from config.settings import load_settings

    for bad in (["english"], [""], ["en", "e n"]):
        with pytest.raises(ValueError, match="language code"):
            ClassificationSettings(model_languages=bad)
    assert ClassificationSettings(model_languages=[" en-GB "]).model_languages == ["en-GB"]
    monkeypatch.setenv("EVIDENCE_HUB_CLASSIFICATION__MODEL_LANGUAGES", "en,de")
    assert load_settings().classification.model_languages == ["en", "de"]
    monkeypatch.setenv("EVIDENCE_HUB_CLASSIFICATION__MODEL_LANGUAGES", '["en"]')
    assert load_settings().classification.model_languages == ["en"]
    monkeypatch.setenv("EVIDENCE_HUB_CLASSIFICATION__MODEL_LANGUAGES", "english")
    with pytest.raises(ConfigError, match="language code"):
        load_settings()


def _labelled(classifier, rows):
    """LabelledDocuments from (name, language, text, policy areas, themes)."""
    from classify.evaluation import GoldRow
    from classify.training import LabelledDocument

    out = []
    for name, language, text, areas, themes in rows:
        chunks = [text]
        gold = GoldRow(file=name, labels={"policy_areas": frozenset(areas), "themes": frozenset(themes)})
        out.append(LabelledDocument(name, gold, chunks, classifier.embedder.encode(chunks), {"language": language}))
    return out


ENGLISH_ROWS = [
    (f"family-{i}.html", "en", f"Family support and early help for parents of young children, case {i}.", ["P1"], [])
    for i in range(3)
] + [
    (f"housing-{i}.html", "en", f"Homelessness prevention, rough sleeping and temporary accommodation, case {i}.", ["P6"], [])
    for i in range(3)
]
GERMAN_ROWS = [("schule-de.html", "de", GERMAN_SCHOOLS, ["P4"], ["T12"]),
               ("wohnen-de.html", "de", "Obdachlosigkeit, Wohnungslosigkeit und Mieten in der Stadt.", ["P6"], ["T12"])]


def test_a_bilingual_document_called_french_is_trained_on_and_a_french_one_is_not(classifier):
    from classify.training import trainable

    english = ("Employment Insurance maternity and parental benefits support parents who stay home with "
               "a newborn or newly adopted child; families apply online and payments follow within weeks.")
    french = ("Les prestations de maternité et parentales de l'assurance-emploi aident les parents qui "
              "restent à la maison avec un nouveau-né ou un enfant adopté; les familles font une demande.")
    documents = _labelled(classifier, ENGLISH_ROWS[:2] + [("bilingue.html", "fr", french, ["P1"], []),
                                                          ("francais.html", "fr", french, ["P1"], [])])
    documents[2].chunk_texts = [english, french] * 2  # half its words English, as the model labels it
    assert classifier.model_reads(documents[2].chunk_texts, "fr")
    assert not classifier.model_reads(documents[3].chunk_texts, "fr")
    assert [d.doc_id for d in trainable(classifier, documents)] == ["family-0.html", "family-1.html", "bilingue.html"]


def test_training_without_documents_the_model_reads_says_so(classifier):
    from classify.training import cross_validate, train

    documents = _labelled(classifier, GERMAN_ROWS + ENGLISH_ROWS[:1])
    for run in (lambda: train(classifier, documents, folds=2), lambda: cross_validate(classifier, documents, folds=2)):
        with pytest.raises(ValueError, match=r"only 1 of the 3 matched gold documents are in a language the "
                                             r"embedding model reads .*en\); training needs at least 2.*\(de\)"):
            run()


def test_a_kind_only_other_languages_have_is_left_zero_shot_and_the_rest_is_trained(classifier):
    from classify.training import train

    model = train(classifier, _labelled(classifier, ENGLISH_ROWS + GERMAN_ROWS), folds=2)
    assert set(model.kinds) == {"policy_areas"} and model.trained_on == 6
    assert "no positive themes label among the 6 gold documents" in model.report["not_trained"]["themes"]
    assert set(model.report["cross_validated"]) == {"policy_areas"}
