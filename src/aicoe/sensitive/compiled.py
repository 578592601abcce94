"""The platform's processes keep the sensitive-data engine's compiled pattern filter where the settings say."""

from __future__ import annotations

from aicoe.config import ConfigError, Settings
from aicoe.engines.sensitive import prefilter


def keep_compiled_filters(settings: Settings | None = None) -> None:
    """Point the engine at ``settings.cache_dir`` (``AICOE_CACHE_DIR``), so this process loads the filter an
    earlier one compiled and keeps the one it compiles. Without ``settings`` they are read from the environment;
    settings that do not validate leave the engine compiling as usual (a scan needs none of them)."""
    if settings is None:
        try:
            settings = Settings()
        except (ConfigError, ValueError):
            return
    prefilter.use_cache_dir(settings.cache_dir)
