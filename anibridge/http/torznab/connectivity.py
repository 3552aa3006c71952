"""The synthetic connectivity item (TORZNAB_RETURN_TEST_RESULT and TORZNAB_TEST_*).

Sonarr's and Prowlarr's indexer tests ask without a query and fail on an empty feed; the earlier
AniBridge answered them with this item, so its magnet and hash (from the same settings) are ones
existing installs have seen. With STRM_FILES_MODE it comes as a STRM release, or both kinds.
"""

from __future__ import annotations

from ...config import Settings
from ...releases import STRM_MODE, STRM_SUFFIX, build_magnet, estimate_size, info_hash
from .feed import CONNECTIVITY_EPOCH, TorznabItem, render_item
from .releases import AUDIO_LANGUAGE, style_of


def connectivity_items(settings: Settings) -> list[str]:
    """The rendered test items (none when TORZNAB_RETURN_TEST_RESULT is false)."""
    if not settings.torznab_return_test_result:
        return []
    style = style_of(settings)
    slug, season, episode = settings.torznab_test_slug, settings.torznab_test_season, settings.torznab_test_episode
    language = settings.torznab_test_language
    items = []
    for strm in style.strm:
        mode = STRM_MODE if strm else None
        title = settings.torznab_test_title + (STRM_SUFFIX if strm else "")
        guid = f"aw:{slug}:s{season}e{episode}:{language}" + (f":{STRM_MODE}" if strm else "")
        items.append(render_item(TorznabItem(
            title=title, guid=guid, pub_date=CONNECTIVITY_EPOCH, category=settings.torznab_cat_anime,
            size=estimate_size(False),
            magnet=build_magnet("aniworld.to", slug, season, episode, language, title, mode=mode),
            info_hash=info_hash(slug, season, episode, language, mode), seeders=style.seeders, peers=style.peers,
            language=AUDIO_LANGUAGE.get(language),  # as Sonarr names languages (IsoLanguages.FindByName)
            description=f"{settings.indexer_name} connectivity check: the indexer is reachable.")))
    return items
