"""The theme / policy-area taxonomy (``config/taxonomy.yaml``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from config.errors import describe_validation_error, read_yaml


class TaxonomyLabel(BaseModel):
    """One theme (``T<n>``) or policy area (``P<n>``)."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[TP][0-9]+$")
    label: str = Field(min_length=1)
    description: str = Field(min_length=1)
    keywords: list[str] = Field(default_factory=list)
    examples: list[str] = Field(default_factory=list)

    def profile_text(self) -> str:
        """Text that describes the label for embedding: label, description and examples."""
        return " ".join([self.label + ".", self.description, *self.examples])


class Taxonomy(BaseModel):
    """Themes (how collaboration is done) and policy areas (public-service domain)."""

    model_config = ConfigDict(extra="forbid")
    version: int = 1
    themes: list[TaxonomyLabel]
    policy_areas: list[TaxonomyLabel]
    boundaries: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ids(self) -> "Taxonomy":
        for kind, prefix, labels in (("themes", "T", self.themes), ("policy_areas", "P", self.policy_areas)):
            ids = [label.id for label in labels]
            if len(ids) != len(set(ids)):
                raise ValueError(f"{kind}: duplicate ids {sorted({i for i in ids if ids.count(i) > 1})}")
            wrong = [i for i in ids if not i.startswith(prefix)]
            if wrong:
                raise ValueError(f"{kind}: ids must start with {prefix!r}, got {wrong}")
        return self

    def label_name(self, label_id: str) -> str:
        """The human label for an id (the id itself when unknown)."""
        for label in (*self.themes, *self.policy_areas):
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
