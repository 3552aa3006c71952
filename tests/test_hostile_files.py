"""Files that are not AniBridge's stay untouched: a symlinked staging folder, a user's file in a release
folder, two magnets with the same ``dn``. Real server on loopback, the local provider world, real yt-dlp."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_downloads_e2e import DONE, client_for, is_media, pick, wait_state

from anibridge.devworld.testing import RunningWorld, running_world
from anibridge.releases import build_magnet, info_hash, release_title
from anibridge.testing import Harness, running_anibridge


@pytest.fixture(scope="module")
def world() -> Iterator[RunningWorld]:
    with running_world(seed=1, titles=20) as w:
        yield w


@pytest.fixture()
def anibridge(world: RunningWorld, tmp_path: Path) -> Iterator[Harness]:
    with running_anibridge(tmp_path / "data", CATALOG_ENABLED="false", PROVIDER_DIRECT_LINK_TIMEOUT_SECONDS="2",
                           **world.env()) as h:
        yield h


def _victim(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    """A folder of the user's outside AniBridge's folders, with names like AniBridge's own."""
    victim = tmp_path / "photos"
    files = {"holiday.jpg": b"jpeg" * 100, f"{'a' * 40}/note.txt": b"keep me", "sub/deep.txt": b"deep"}
    for name, data in files.items():
        (victim / name).parent.mkdir(parents=True, exist_ok=True)
        (victim / name).write_bytes(data)
    return victim, files


def _intact(victim: Path, files: dict[str, bytes]) -> None:
    found = {str(p.relative_to(victim)): p.read_bytes() for p in victim.rglob("*") if p.is_file()}
    assert found == files


def test_symlinked_staging_folder_is_never_emptied_nor_written(world: RunningWorld, tmp_path: Path) -> None:
    victim, files = _victim(tmp_path)
    downloads = tmp_path / "data" / "downloads"
    downloads.mkdir(parents=True)
    os.symlink(victim, downloads / ".incoming")
    with running_anibridge(tmp_path / "data", CATALOG_ENABLED="false", **world.env()) as h:
        ep = pick(world)
        client = client_for(h.base_url)
        client.torrents_add(urls=ep.magnet())
        wait_state(client, ep.hash(), ("error",))  # the start-up clean-up has run by now
        reason = client.torrents_properties(ep.hash())["comment"]
        assert ".incoming is a symbolic link" in reason and str(victim) in reason
        _intact(victim, files)
        client.torrents_delete(delete_files=True, torrent_hashes=ep.hash())
    _intact(victim, files)
    assert (downloads / ".incoming").is_symlink()


def test_stale_staging_clean_up_removes_only_task_folders(world: RunningWorld, tmp_path: Path) -> None:
    staging = tmp_path / "data" / "downloads" / ".incoming"
    (staging / ("b" * 40)).mkdir(parents=True)
    (staging / ("b" * 40) / ".video.part").write_bytes(b"x" * 10)
    (staging / "mine.txt").write_bytes(b"a user's file")
    victim, files = _victim(tmp_path)
    os.symlink(victim, staging / ("c" * 40))  # a link named like a task: removed as a link, never followed
    with running_anibridge(tmp_path / "data", CATALOG_ENABLED="false", **world.env()) as h:
        ep = pick(world, skip=4)
        client = client_for(h.base_url)
        client.torrents_add(urls=ep.magnet())
        wait_state(client, ep.hash(), DONE)
    assert sorted(p.name for p in staging.iterdir()) == ["mine.txt"]
    _intact(victim, files)


def test_delete_with_files_keeps_a_users_file_in_the_release_folder(world: RunningWorld,
                                                                    anibridge: Harness) -> None:
    ep = pick(world, skip=5)
    client = client_for(anibridge.base_url)
    client.torrents_add(urls=ep.magnet(), category="sonarr")
    content = Path(wait_state(client, ep.hash(), DONE)["content_path"])
    user_file = content.parent / "my.subtitles.srt"
    user_file.write_text("1\n00:00:01,000 --> 00:00:02,000\nmine\n")
    client.torrents_delete(delete_files=True, torrent_hashes=ep.hash())
    assert not content.exists()  # AniBridge's own file goes
    assert user_file.read_text().endswith("mine\n")  # the user's file and its folder stay
    assert client.torrents_info() == []


def test_delete_with_files_keeps_a_file_the_user_put_in_its_place(world: RunningWorld, anibridge: Harness) -> None:
    ep = pick(world, skip=6)
    client = client_for(anibridge.base_url)
    client.torrents_add(urls=ep.magnet())
    content = Path(wait_state(client, ep.hash(), DONE)["content_path"])
    content.unlink()
    content.write_bytes(b"the user's own edit of this episode")
    client.torrents_delete(delete_files=True, torrent_hashes=ep.hash())
    assert content.read_bytes() == b"the user's own edit of this episode"


def test_two_episodes_with_the_same_dn_never_share_a_file(world: RunningWorld, anibridge: Harness) -> None:
    first, second = pick(world, skip=7), pick(world, skip=9)
    lang1, lang2 = next(iter(first.languages)), next(iter(second.languages))
    dn = release_title(first.title, first.season, first.episode, lang1, first.site)
    magnets = [build_magnet(first.site, first.slug, first.season, first.episode, lang1, dn),
               build_magnet(second.site, second.slug, second.season, second.episode, lang2, dn)]
    hashes = [info_hash(first.slug, first.season, first.episode, lang1),
              info_hash(second.slug, second.season, second.episode, lang2)]
    client = client_for(anibridge.base_url)
    client.torrents_add(urls="\n".join(magnets), category="sonarr")
    done = [wait_state(client, h, DONE) for h in hashes]
    paths = [Path(d["content_path"]) for d in done]
    assert paths[0] != paths[1] and paths[0].parent != paths[1].parent
    assert all(p.is_file() and is_media(p) for p in paths)
    assert f"S{second.season:02d}E{second.episode:02d}" in paths[1].name  # not the other episode's name
    client.torrents_delete(delete_files=True, torrent_hashes=hashes[0])
    assert not paths[0].exists() and paths[1].is_file()


def test_same_dn_same_episode_on_two_languages_gets_two_folders(world: RunningWorld, anibridge: Harness) -> None:
    ep = pick(world, want=lambda p: len(p.languages) >= 2, skip=1)
    lang1, lang2 = list(ep.languages)[:2]
    dn = release_title(ep.title, ep.season, ep.episode, lang1, ep.site)
    client = client_for(anibridge.base_url)
    for lang in (lang1, lang2):
        client.torrents_add(urls=build_magnet(ep.site, ep.slug, ep.season, ep.episode, lang, dn))
    paths = [Path(wait_state(client, ep.hash(lang), DONE)["content_path"]) for lang in (lang1, lang2)]
    assert paths[0] != paths[1] and all(p.is_file() for p in paths)
