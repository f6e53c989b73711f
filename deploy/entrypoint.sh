#!/bin/sh
# The container's entrypoint: infisicalfs in the foreground on /shared/secrets
# (INFISICALFS_MOUNTPOINT overrides it), with the container's command (CMD,
# compose's command:, Kubernetes' args:) as its options.
set -eu
mountpoint=${INFISICALFS_MOUNTPOINT:-/shared/secrets}
# A daemon that was killed (kill -9, out of memory) leaves a dead mount on the
# shared folder ("Transport endpoint is not connected"), and mounting there
# again would fail (exit 5), so the restarted container would fail again. No
# daemon runs here yet, so a FUSE mount already on the mountpoint is such a
# leftover: take it away (with shared propagation, on the host too).
if grep -q "^[^ ]* $mountpoint fuse" /proc/self/mounts; then
  echo "infisicalfs-entrypoint: removing the dead mount on $mountpoint" >&2
  infisicalfs unmount "$mountpoint" || umount -l "$mountpoint" || true
fi
mkdir -p "$mountpoint"
# exec: the daemon replaces this shell, so SIGTERM reaches it and it unmounts.
exec infisicalfs mount "$mountpoint" --foreground "$@"
