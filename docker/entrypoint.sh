#!/bin/sh
# AniBridge container entrypoint (POSIX sh).
#
# 1. Creates DATA_DIR and DOWNLOAD_DIR and checks that they are writable; if not, prints one
#    line saying what to fix and exits 1 (instead of a Python traceback deep in start-up).
# 2. Started as root with PUID/PGID set: hands the data directories to that uid/gid and drops
#    to it (setpriv). Started as any other user (the image's default is anibridge, uid 1000):
#    PUID/PGID are ignored.
# 3. Runs `anibridge serve` by default; `anibridge <subcommand> ...` when the first argument is
#    a subcommand (status, verify, crawl, replay, pin, ...); options alone go to serve
#    (`--no-crawl`); any other executable (`sh`) runs as given.
set -eu

fail() {
    echo "anibridge: $*" >&2
    exit 1
}

DATA_DIR="${DATA_DIR:-/data}"
DOWNLOAD_DIR="${DOWNLOAD_DIR:-$DATA_DIR/downloads}"
export DATA_DIR DOWNLOAD_DIR

# --- which command -----------------------------------------------------------------------------
if [ "$#" -eq 0 ]; then
    set -- anibridge serve
else
    case "$1" in
        serve|verify|status|crawl|replay|pin|devworld|demo|help|-h|--help)
            set -- anibridge "$@" ;;
        -*)
            set -- anibridge serve "$@" ;;
        *)
            command -v "$1" >/dev/null 2>&1 \
                || fail "unknown command '$1': use an anibridge subcommand (serve, status, verify, crawl, replay, pin) or an executable"
            ;;
    esac
fi

# --- which user ----------------------------------------------------------------------------------
uid="$(id -u)"
gid="$(id -g)"
drop=""
if [ -n "${PUID:-}" ] || [ -n "${PGID:-}" ]; then
    if [ "$uid" = "0" ]; then
        PUID="${PUID:-1000}"
        PGID="${PGID:-$PUID}"
        case "$PUID$PGID" in
            *[!0-9]*) fail "PUID and PGID must be numeric ids (PUID='$PUID', PGID='$PGID')" ;;
        esac
        command -v setpriv >/dev/null 2>&1 || fail "PUID/PGID need setpriv (util-linux), which is missing"
        drop="yes"
        uid="$PUID"
        gid="$PGID"
    else
        echo "anibridge: PUID/PGID ignored: the container already runs as uid $uid (start it as root to use them)" >&2
    fi
fi

# Runs a command as the user AniBridge will run as.
as_user() {
    if [ -n "$drop" ]; then
        setpriv --reuid="$PUID" --regid="$PGID" --clear-groups -- "$@"
    else
        "$@"
    fi
}

# --- data directories ------------------------------------------------------------------------------
for var in DATA_DIR DOWNLOAD_DIR; do
    eval "dir=\$$var"
    # shellcheck disable=SC2154  # dir is set by the eval above
    [ -n "$dir" ] || fail "$var is empty: set it to a directory (default /data and /data/downloads)"
    if [ -e "$dir" ] && [ ! -d "$dir" ]; then
        fail "$var=$dir exists but is not a directory: mount a directory there"
    fi
    mkdir -p "$dir" 2>/dev/null || fail "cannot create $var=$dir (read-only volume or wrong owner?): mount a writable volume there"
    if [ -n "$drop" ]; then
        # Only the directories and the database files at the top, never a recursive walk of the downloads.
        chown "$PUID:$PGID" "$dir" 2>/dev/null || true
        find "$dir" -maxdepth 1 -type f ! -user "$PUID" -exec chown "$PUID:$PGID" {} + 2>/dev/null || true
    fi
    # A real write (not `test -w`): root passes `test -w` on a read-only volume's directory.
    # shellcheck disable=SC2016  # $1 expands in the inner shell
    as_user sh -c ': > "$1" && rm -f "$1"' sh "$dir/.anibridge-write-test.$$" 2>/dev/null \
        || fail "$var=$dir is not writable by uid $uid (gid $gid): mount a writable volume there, or fix its owner (PUID/PGID when started as root, or user: in compose)"
done

if [ -n "$drop" ]; then
    exec setpriv --reuid="$PUID" --regid="$PGID" --clear-groups -- "$@"
fi
exec "$@"
