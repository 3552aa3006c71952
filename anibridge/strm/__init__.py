"""STRM files and the STRM proxy.

A STRM release makes AniBridge write a ``.strm`` file (one line: a playable URL) instead of
downloading. With ``STRM_PROXY_MODE=proxy`` that URL is a stable AniBridge address
(``/strm/stream?...``) that re-resolves the video host's short-lived link when played and streams
it through AniBridge; HLS playlists are rewritten so their segments come through ``/strm/proxy``.

``auth`` signs and checks URLs, ``urls`` builds them, ``hls`` rewrites playlists, ``upstream``
decides which media hosts may be fetched, ``links`` resolves an episode to a direct link (cached).
The endpoints are in ``anibridge.http.strm``; the worker writes ``.strm`` files (``downloads/strm.py``).
"""
