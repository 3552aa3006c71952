"""Local provider world: AniWorld, s.to, Megakino, SkyHook and video hosts from one ASGI app.

Deterministic from (seed, titles, day). One process, one port, sites by path prefix:
``/aniworld``, ``/sto``, ``/megakino``, ``/skyhook``, ``/hosts``; control under ``/_world``.
Pages use root-relative hrefs exactly as the real sites (``/anime/stream/<slug>``,
``/redirect/<id>``): resolve them as ``<SITE_BASE_URL> + href``. The same paths also answer
without the prefix, so urljoin against the host works too.

Video host embed pages (``/hosts/<host>/e/<vid>``; every vid serves the same media):

Shapes follow the live hosts (``../shared/real-pages/hosts``); older ones stay available through
``POST /_world/shapes`` (``{"voe": "legacy"}``), ``RunningWorld.set_shapes`` or ``--shapes``.

- VOE (``encoded``, default): the source only in ``<script type="application/json">"<blob>"</script>``
  (see ``devworld.voe`` for the encoding); a quarter of the videos first answer an interstitial,
  ``window.location.href = '<origin>/hosts/voe-mirror/e/<vid>'``. ``interstitial``: every video does;
  ``legacy``: ``<script>var sources = {'hls': '<base64 of absolute m3u8 URL>', 'video_height': 720};</script>``.
- Filemoon (``mixed``, default): packed ``eval(function(p,a,c,k,e,d){...})`` around
  ``jwplayer("vplayer").setup({sources:[{file:"<absolute m3u8 URL>"}], ...})``, and for a third of
  the videos a Byse app shell whose source comes from ``/hosts/filemoon/api/videos/<vid>`` (AES-GCM
  ``playback``; see ``devworld.filemoon``). ``packed``, ``byse``: only that kind; ``plain``: unpacked.
- Vidmoly: ``player.setup({ sources: [{file:"<absolute m3u8 URL>"}], image: ... })``
- Streamtape: ``<div id="robotlink">/hosts/streamtape/get_video?id=<vid>&token=xxx</div>`` (decoy token)
  and ``innerHTML = '/hosts/streamtape/get_video?id=<vid>&expires=1&token=' + ('<3 chars><TOKEN>').substring(3);``
  ``get_video`` with the right token: 302 to ``/hosts/media/<vid>.mp4``; otherwise 403.
- Doodstream: ``$.get('/hosts/doodstream/pass_md5/<vid>/<token>', function(data){...makePlay()...})``;
  pass_md5 needs a Referer starting with the server origin and answers
  ``<origin>/hosts/doodstream/stream/<vid>/``; append any 10 chars and
  ``?token=<token>&expiry=<int>`` to get the MP4 (wrong token: 403).
- LoadX, Luluvdo, Vidoza: ``<video id="player"><source src="<absolute mp4 URL>" type="video/mp4"></video>``

Media: ``/hosts/media/<vid>.mp4`` (HTTP Range) and ``/hosts/media/<vid>/master.m3u8`` (+ ``segN.ts``).
"""

from anibridge.devworld.world import World

__all__ = ["World"]
