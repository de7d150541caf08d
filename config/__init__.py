"""Configuration: settings, the source catalogue and the taxonomy, each validated on load.

Files live beside this module (``settings.yaml``, ``sources.yaml``, ``taxonomy.yaml``); every
loader raises :class:`config.errors.ConfigError` naming the file, the field and what is wrong.
"""

from config.errors import ConfigError
from config.settings import Settings, load_settings
from config.sources import Source, load_sources
from config.taxonomy import Taxonomy, load_taxonomy

__all__ = ["ConfigError", "Settings", "load_settings", "Source", "load_sources", "Taxonomy", "load_taxonomy"]
