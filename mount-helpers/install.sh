#!/bin/sh
# Installs infisicalfs the way mount(8), fstab and systemd expect it:
#   PREFIX/usr/local/bin/infisicalfs                  (0755)
#   PREFIX/sbin/mount.fuse.infisicalfs                (0755, the mount(8) helper)
#   PREFIX/etc/systemd/system/infisicalfs@.service    (0644, the unit template)
#   PREFIX/etc/infisicalfs/                           (0700, credentials files)
# PREFIX is empty (the real system) unless --prefix DIR is given; the helper
# and the unit then point at DIR's binary, so an installation under a
# prefix works where it is (the tests use this). Running it again replaces
# the files and changes nothing else; it never touches existing credentials.
#
# usage: install.sh [--prefix DIR] [--binary PATH]
#   --binary  the infisicalfs to install (default: .build/release/infisicalfs
#             of this checkout, built with `swift build -c release`)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
prefix=""
binary="$here/../.build/release/infisicalfs"

usage() { sed -n '2,16s/^# \{0,1\}//p' "$0"; }
die() { echo "install.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; prefix=$2; shift 2 ;;
        --prefix=*) prefix=${1#--prefix=}; shift ;;
        --binary) [ $# -ge 2 ] || die "--binary needs a path"; binary=$2; shift 2 ;;
        --binary=*) binary=${1#--binary=}; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
    esac
done

[ -x "$binary" ] || die "no infisicalfs binary at $binary (build it with 'swift build -c release', or pass --binary)"
case "$prefix" in
    "") [ "$(id -u)" -eq 0 ] || die "installing into the system needs root (or use --prefix DIR)" ;;
    /*) prefix=${prefix%/} ;;
    *) prefix=$(pwd)/$prefix ;;
esac

bindir=$prefix/usr/local/bin
sbindir=$prefix/sbin
unitdir=$prefix/etc/systemd/system
confdir=$prefix/etc/infisicalfs

install -d -m 0755 "$bindir" "$sbindir" "$unitdir"
[ -d "$confdir" ] || install -d -m 0700 "$confdir"

# Copy beside, then rename: a running daemon keeps its old binary, nobody sees half a file.
put() { # put SOURCE MODE DESTINATION
    install -m "$2" "$1" "$3.new.$$"
    mv -f "$3.new.$$" "$3"
}
# sed's replacement text: escape its own special characters.
target=$(printf '%s\n' "$bindir/infisicalfs" | sed 's/[&|\\]/\\&/g')
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

put "$binary" 0755 "$bindir/infisicalfs"
sed "s|^INFISICALFS=.*|INFISICALFS=$target|" "$here/mount.fuse.infisicalfs" > "$scratch/helper"
put "$scratch/helper" 0755 "$sbindir/mount.fuse.infisicalfs"
sed "s|/usr/local/bin/infisicalfs|$target|g" "$here/infisicalfs@.service" > "$scratch/unit"
put "$scratch/unit" 0644 "$unitdir/infisicalfs@.service"

echo "installed $bindir/infisicalfs, $sbindir/mount.fuse.infisicalfs and $unitdir/infisicalfs@.service"
if [ -z "$prefix" ] && [ -d /run/systemd/system ]; then
    echo "run 'systemctl daemon-reload' to make systemd read the unit (docs/OPERATIONS.md)"
fi
