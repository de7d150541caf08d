"""The theme / policy-area taxonomy (``config/taxonomy.yaml``)."""

from __future__ import annotations

from pathlib import Path

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from config.errors import describe_validation_error, read_yaml

LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")]  # ISO 639-1 (or 639-3), lower case


class TaxonomyLabel(BaseModel):
    """One theme (``T<n>``), policy area (``P<n>``) or evidence type (``E<n>``)."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[TPE][0-9]+$")
    label: str = Field(min_length=1)
    description: str = Field(min_length=1)
    keywords: list[str] = Field(default_factory=list)
    keywords_by_language: dict[LanguageCode, list[str]] = Field(
        default_factory=dict, description="Keywords in other languages, by ISO 639-1 code (e.g. de, fr): the "
                                          "evidence for documents in a language the embedding model does not read")
    examples: list[str] = Field(default_factory=list)

    def profile_text(self) -> str:
        """Text that describes the label for embedding: label, description and examples."""
        return " ".join([self.label + ".", self.description, *self.examples])


class LabelScope(BaseModel):
    """What a document must be about before a label kind applies at all, e.g. themes only for
    documents about collaboration: a description (embedded like a label profile) and keywords."""

    model_config = ConfigDict(extra="forbid")
    description: str = Field(min_length=1)
    keywords: list[str] = Field(default_factory=list)
    keywords_by_language: dict[LanguageCode, list[str]] = Field(default_factory=dict)


class Taxonomy(BaseModel):
    """Themes (how collaboration is done), policy areas (public-service domain) and evidence types
    (study design: trial, quasi-experiment, process evaluation, ...)."""

    model_config = ConfigDict(extra="forbid")
    version: int = 1
    themes: list[TaxonomyLabel]
    policy_areas: list[TaxonomyLabel]
    evidence_types: list[TaxonomyLabel] = Field(default_factory=list)
    scope: dict[str, LabelScope] = Field(default_factory=dict, description="Per kind (themes, policy_areas, ...)")
    boundaries: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ids(self) -> "Taxonomy":
        for kind, prefix, labels in self.kinds_with_prefix():
            ids = [label.id for label in labels]
            if len(ids) != len(set(ids)):
                raise ValueError(f"{kind}: duplicate ids {sorted({i for i in ids if ids.count(i) > 1})}")
            wrong = [i for i in ids if not i.startswith(prefix)]
            if wrong:
                raise ValueError(f"{kind}: ids must start with {prefix!r}, got {wrong}")
        kinds = {kind for kind, _, _ in self.kinds_with_prefix()}
        if set(self.scope) - kinds:
            raise ValueError(f"scope: unknown kinds {sorted(set(self.scope) - kinds)}; expected some of {sorted(kinds)}")
        return self

    def kinds_with_prefix(self) -> list[tuple[str, str, list[TaxonomyLabel]]]:
        """``(kind, id prefix, labels)`` for themes, policy_areas and evidence_types."""
        return [("themes", "T", self.themes), ("policy_areas", "P", self.policy_areas),
                ("evidence_types", "E", self.evidence_types)]

    def labels_of(self, kind: str) -> list[TaxonomyLabel]:
        """The labels of ``kind`` (themes, policy_areas or evidence_types). Raises KeyError otherwise."""
        for name, _, labels in self.kinds_with_prefix():
            if name == kind:
                return labels
        raise KeyError(f"unknown label kind {kind!r}; expected themes, policy_areas or evidence_types")

    def unknown_filter_ids(self, filters: dict) -> dict[str, str]:
        """``{filter name: message}`` for each label filter of ``filters`` (``theme``,
        ``policy_area``, ``evidence_type``: a mapping such as ``SearchFilters.model_dump()``) whose
        id is not a label of this taxonomy; empty when every id is known (or none is given)."""
        problems = {}
        for name, kind in (("theme", "themes"), ("policy_area", "policy_areas"), ("evidence_type", "evidence_types")):
            value = str(filters.get(name) or "").strip()  # blank: no filter
            known = [label.id for label in self.labels_of(kind)]
            if value and value not in known:
                problems[name] = (f"{value!r} is not one of the taxonomy's {kind.replace('_', ' ')}; known ids: "
                                  f"{', '.join(known)} (case-sensitive)")
        return problems

    def label_name(self, label_id: str) -> str:
        """The human label for an id (the id itself when unknown)."""
        for label in (*self.themes, *self.policy_areas, *self.evidence_types):
            if label.id == label_id:
                return label.label
        return label_id


def load_taxonomy(path: Path | str) -> Taxonomy:
    """Load and validate the taxonomy file.

    Raises:
        ConfigError: naming the file, the field and the problem.
    """
    path = Path(path)
    try:
        return Taxonomy.model_validate(read_yaml(path))
    except ValidationError as exc:
        raise describe_validation_error(str(path), exc) from None
