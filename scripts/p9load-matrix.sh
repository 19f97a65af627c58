#!/usr/bin/env bash
# p9load matrix: Gofer vs diod, 6 workloads x 4 shapes (c1/c4 x d1/d16), 2 s cells, msize 64 KiB + 24 for both,
# one export, the two servers one after the other per cell. Quick and rough; scripts/bench.sh is the full comparison.
set -u
cd "$(dirname "$0")/.."
T=$(mktemp -d); cp -r ../shared/tools/p9load $T/ && chmod -R u+w $T && make -s -C $T/p9load >/dev/null
P=$T/p9load/p9load
EXP=$(mktemp -d /tmp/mx.XXXX)/exp; mkdir -p $EXP/d1000 $EXP/a/b $EXP/scratch
head -c 64M /dev/urandom > $EXP/big; echo hi > $EXP/a/b/c
for i in $(seq 1 1000); do echo $i > $EXP/d1000/f$i; done
dotnet build src/Gofer -c Release -nologo -v q >/dev/null
G=$PWD/src/Gofer/bin/Release/net10.0/gofer
$G serve --root $EXP --listen tcp:127.0.0.1:0 --log-level Warning > /tmp/mx-g.out 2>&1 & GP=$!
sleep 2; GPORT=$(grep -o 'listening tcp:127.0.0.1:[0-9]*' /tmp/mx-g.out | grep -o '[0-9]*$' | head -1)
DPORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'); diod -f -n -N -l 127.0.0.1:$DPORT -e $EXP > /dev/null 2>&1 & DP=$!
sleep 1
printf "| workload | c×d | Gofer | diod | ratio |\n|---|---|---:|---:|---:|\n"
for wl in getattr walkclunk read write create readdir; do
  case $wl in getattr|walkclunk) p=a/b/c;; read) p=big;; write|create) p=scratch;; readdir) p=d1000;; esac
  extra=""; [ $wl = write -o $wl = create ] && extra="-R"
  for shape in "1 1" "1 16" "4 1" "4 16"; do set -- $shape
    g=$($P -s tcp:127.0.0.1:$GPORT -a / -W $wl -p $p -c $1 -d $2 -t 2 -w 1 -m 65560 $extra 2>/dev/null | grep ^RESULT)
    d=$($P -s tcp:127.0.0.1:$DPORT -a $EXP -W $wl -p $p -c $1 -d $2 -t 2 -w 1 -m 65560 $extra 2>/dev/null | grep ^RESULT)
    f=ops_per_s; [ $wl = read -o $wl = write ] && f=mb_per_s; [ $wl = readdir ] && f=entries_per_s
    gv=$(echo "$g" | grep -o " $f=[0-9.]*" | cut -d= -f2); dv=$(echo "$d" | grep -o " $f=[0-9.]*" | cut -d= -f2)
    r=$(awk -v a="${gv:-0}" -v b="${dv:-0}" 'BEGIN{ if (b>0) printf "%.2f×", a/b; else print "-" }')
    echo "| $wl ($f) | c$1 d$2 | ${gv:-err} | ${dv:-err} | $r |"
  done
done
kill $GP $DP; wait $GP $DP 2>/dev/null
rm -rf $(dirname $EXP) $T
