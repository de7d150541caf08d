"""Settings, sources and taxonomy: validated on load, errors name file, field and problem."""

from __future__ import annotations

import pytest

from config import ConfigError, load_settings, load_sources, load_taxonomy
from config.settings import CONFIG_DIR


def test_defaults_and_home_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("EVIDENCE_HUB_HOME", str(tmp_path))
    settings = load_settings()
    assert settings.index.backend == "embedded"
    assert settings.embedding.model == "all-MiniLM-L6-v2"
    assert settings.index_path == tmp_path / "index.sqlite"
    assert settings.registry_path == tmp_path / "registry.sqlite"


def test_config_file_then_environment_override(tmp_path, monkeypatch):
    config = tmp_path / "mine.yaml"
    config.write_text("fetch:\n  min_delay_s: 2.5\n  retries: 5\nchunking:\n  max_words: 100\n  overlap_words: 10\n")
    monkeypatch.setenv("EVIDENCE_HUB_FETCH__RETRIES", "7")
    settings = load_settings(config)
    assert settings.fetch.min_delay_s == 2.5
    assert settings.fetch.retries == 7  # environment wins over the file
    assert settings.chunking.max_words == 100


def test_bad_file_names_file_field_and_problem(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("fetch:\n  min_delay_s: -1\n  colour: blue\n")
    with pytest.raises(ConfigError) as info:
        load_settings(config)
    message = str(info.value)
    assert str(config) in message
    assert "fetch.min_delay_s" in message and "greater than or equal to 0" in message
    assert "fetch.colour" in message and "Extra inputs are not permitted" in message


def test_bad_environment_variable_is_named(monkeypatch):
    monkeypatch.setenv("EVIDENCE_HUB_FETCH__TIMEOUT_S", "soon")
    with pytest.raises(ConfigError, match=r"environment.*fetch.timeout_s"):
        load_settings()


def test_invalid_yaml_reports_line(tmp_path):
    config = tmp_path / "broken.yaml"
    config.write_text("fetch: [unclosed\n")
    with pytest.raises(ConfigError, match=r"broken.yaml: not valid YAML at line"):
        load_settings(config)


def test_allow_networks_must_be_cidr(tmp_path):
    config = tmp_path / "nets.yaml"
    config.write_text("fetch:\n  allow_networks: ['127.0.0.1/32', 'not-a-network']\n")
    with pytest.raises(ConfigError, match="not-a-network"):
        load_settings(config)


def test_shipped_catalogue_has_real_uk_sources():
    sources = load_sources(CONFIG_DIR / "sources.yaml")
    assert len(sources) >= 15
    assert {s.kind for s in sources} <= {"feed", "sitemap", "urls", "directory"}
    for source in sources:
        assert source.url.startswith("https://"), source.name
        assert source.allowed_domains, source.name
        assert source.schedule is not None, source.name


def test_bad_source_entry_is_named(tmp_path):
    path = tmp_path / "sources.yaml"
    path.write_text("sources:\n  - name: ok\n    kind: feed\n    url: https://example.org/feed\n"
                    "  - name: Bad Name\n    kind: feed\n    url: https://example.org/x\n"
                    "  - name: no-url\n    kind: feed\n")
    with pytest.raises(ConfigError) as info:
        load_sources(path)
    message = str(info.value)
    assert "sources.yaml: sources.1.name" in message
    assert "sources.2: Value error, a feed source needs 'url'" in message


def test_duplicate_source_names_rejected(tmp_path):
    path = tmp_path / "sources.yaml"
    path.write_text("sources:\n" + "  - {name: a, kind: feed, url: 'https://example.org/f'}\n" * 2)
    with pytest.raises(ConfigError, match="used twice"):
        load_sources(path)


def test_taxonomy_has_every_theme_and_policy_area():
    taxonomy = load_taxonomy(CONFIG_DIR / "taxonomy.yaml")
    assert [t.id for t in taxonomy.themes] == [f"T{i}" for i in range(1, 13)]
    assert [p.id for p in taxonomy.policy_areas] == [f"P{i}" for i in range(1, 15)]
    assert all(label.keywords and label.description for label in taxonomy.themes + taxonomy.policy_areas)
    assert taxonomy.label_name("P1") == "Children, young people and families"


def test_taxonomy_rejects_wrong_prefix(tmp_path):
    path = tmp_path / "taxonomy.yaml"
    path.write_text("themes:\n  - {id: P1, label: x, description: y}\npolicy_areas: []\n")
    with pytest.raises(ConfigError, match="ids must start with 'T'"):
        load_taxonomy(path)


def test_explicit_overrides_win_over_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("EVIDENCE_HUB_HOME", str(tmp_path / "from-env"))
    monkeypatch.setenv("EVIDENCE_HUB_FETCH__RETRIES", "7")
    settings = load_settings(home=str(tmp_path / "explicit"), fetch={"min_delay_s": 0.0})
    assert settings.home == tmp_path / "explicit"
    assert settings.fetch.min_delay_s == 0.0
    assert settings.fetch.retries == 7  # other fields still come from the environment
    assert settings.fetch.max_redirects == 5  # and from the packaged file


def test_list_settings_from_environment_as_csv_or_json(monkeypatch, tmp_path):
    monkeypatch.setenv("EVIDENCE_HUB_FETCH__ALLOW_NETWORKS", "127.0.0.1/32, 10.0.0.0/8")
    monkeypatch.setenv("EVIDENCE_HUB_INDEX__OPENSEARCH__HOSTS", '["https://a:9200", "https://b:9200"]')
    settings = load_settings()
    assert settings.fetch.allow_networks == ["127.0.0.1/32", "10.0.0.0/8"]
    assert settings.index.opensearch.hosts == ["https://a:9200", "https://b:9200"]


def test_non_utf8_config_file(tmp_path):
    config = tmp_path / "latin.yaml"
    config.write_bytes("fetch:\n  user_agent: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_settings(config)
