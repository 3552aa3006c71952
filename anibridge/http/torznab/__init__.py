"""Torznab: the indexer API Sonarr, Radarr and Prowlarr search.

``params`` reads a request, ``api`` answers it from the catalogue projection, ``releases`` turns a
title's episodes into releases, ``feed`` writes the XML.
"""

from .api import TorznabFastPath, router

__all__ = ["TorznabFastPath", "router"]
