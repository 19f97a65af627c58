#!/bin/busybox sh
# /init of the test guest: loads the 9p and virtio modules, mounts the server under test once per
# run requested on the kernel command line, runs the checker in each mount and powers off.
#
# Kernel command line words read here (all written by GuestRun.cs):
#   gofer.aname=DIR        aname for every mount (diod wants the export path; empty = none)
#   gofer.run=LABEL~TRANSPORT~OPTIONS~SET   one per run, in order, where
#       TRANSPORT = tcp:PORT        mount 10.0.2.2:PORT (QEMU user-mode NAT to host 127.0.0.1:PORT)
#                 | fd:PORTNAME     trans=fd over the virtio-serial port named PORTNAME (via fdrelay)
#                 | fdraw:PORTNAME  trans=fd with the port itself as the fd (a probe: fails on 5.10+)
#       OPTIONS   = extra mount options, comma separated (cache=…,access=…,msize=…)
#       SET       = all | light | check names joined with '+'
# Output lines the host parses: GUEST-START, RUN-BEGIN, MOUNT-OK/MOUNT-FAIL, CHECK…, DONE,
# UMOUNT, RUN-END, GUEST-END.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
echo "GUEST-START $(uname -r)"

for m in $(cat /modules.order); do
  insmod "/modules/$m" || echo "GUEST-WARN insmod $m failed"
done

aname=""
runs=""
for w in $(cat /proc/cmdline); do
  case "$w" in
    gofer.aname=*) aname="${w#gofer.aname=}" ;;
    gofer.run=*) runs="$runs ${w#gofer.run=}" ;;
  esac
done

need_net=0
case "$runs" in *~tcp:*) need_net=1 ;; esac
if [ "$need_net" = 1 ]; then
  # QEMU user-mode networking: the guest is 10.0.2.15, the host's loopback is reachable as 10.0.2.2.
  i=0
  while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  ip link set lo up
  ip link set eth0 up
  ip addr add 10.0.2.15/24 dev eth0
fi

# Finds /dev/vportNpM of the virtio-serial port with the given name.
port_dev() {
  for p in /sys/class/virtio-ports/*; do
    [ -f "$p/name" ] && [ "$(cat "$p/name")" = "$1" ] && { echo "/dev/${p##*/}"; return 0; }
  done
  return 1
}

for run in $runs; do
  label="${run%%~*}"; rest="${run#*~}"
  transport="${rest%%~*}"; rest="${rest#*~}"
  opts="${rest%%~*}"; set="${rest#*~}"
  mnt="/mnt/$label"
  mkdir -p "$mnt"
  base="version=9p2000.L"
  [ -n "$aname" ] && base="$base,aname=$aname"
  [ -n "$opts" ] && base="$base,$opts"
  echo "RUN-BEGIN $label $transport $base"
  t0=$(cut -d' ' -f1 /proc/uptime)
  case "$transport" in
    tcp:*)
      mount -t 9p -o "trans=tcp,port=${transport#tcp:},$base" 10.0.2.2 "$mnt" 2>/tmp/mount.err
      rc=$? ;;
    fd:*|fdraw:*)
      dev=$(port_dev "${transport#*:}")
      if [ -z "$dev" ]; then
        echo "no virtio-serial port named ${transport#*:}" >/tmp/mount.err; rc=99
      elif [ "${transport%%:*}" = fdraw ]; then
        # The port itself as rfdno/wfdno: fails on 5.10+ kernels (9pnet_fd needs read_iter/
        # write_iter, which virtio_console lacks); kept as a probe.
        mount -t 9p -o "trans=fd,rfdno=3,wfdno=3,$base" gofer "$mnt" 3<>"$dev" 2>/tmp/mount.err
        rc=$?
      else
        # A socket pair relayed to the port (see fdrelay.c): rfdno=wfdno=the guest-side socket.
        /fdrelay "$dev" mount -t 9p -o "trans=fd,rfdno={fd},wfdno={fd},$base" gofer "$mnt" 2>/tmp/mount.err
        rc=$?
      fi ;;
    *) echo "unknown transport $transport" >/tmp/mount.err; rc=98 ;;
  esac
  if [ $rc -ne 0 ]; then
    echo "MOUNT-FAIL $label rc=$rc $(tr '\n' ' ' </tmp/mount.err)"
    dmesg | tail -n 5 | sed 's/^/GUEST-DMESG /'
    echo "RUN-END $label"
    continue
  fi
  echo "MOUNT-OK $label $(grep " $mnt " /proc/mounts)"
  work="$mnt/$label"
  mkdir -p "$work"
  case "$set" in
    all|light) /checker --label "$label" --dir "$work" --set "$set" ;;
    *) /checker --label "$label" --dir "$work" --checks "$(echo "$set" | tr '+' ',')" ;;
  esac
  rm -rf "$work"
  cd /
  umount "$mnt"; echo "UMOUNT $label rc=$?"
  t1=$(cut -d' ' -f1 /proc/uptime)
  echo "RUN-END $label start=$t0 end=$t1"
done

dmesg | grep -iE '9p|9pnet' | tail -n 20 | sed 's/^/GUEST-DMESG /'
echo "GUEST-END"
sync
poweroff -f
