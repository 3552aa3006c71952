"""AniBridge: German streaming catalogues as a Torznab indexer and a qBittorrent-compatible client."""

__version__ = "0.1.0"
