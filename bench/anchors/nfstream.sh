#!/usr/bin/env bash
# Builds nfstream 6.5 from source, as a benchmark anchor only (bench/flows/run.ts uses it when it is there; nothing
# else does). Into bench/data/nfstream/venv, a venv over Debian's python3 packages (numpy, pandas, dpkt, psutil,
# cffi), with nDPI at the commit nfstream pins as its submodule and Debian's libpcap in place of nfstream's fork
# (the fork adds only Linux packet fanout for live multi-meter capture, which a file benchmark does not use).
#
#   bash bench/anchors/nfstream.sh
#
# Sources: NFSTREAM_GIT and NDPI_GIT (git directories or URLs; default the local mirrors when present, else
# GitHub). Exits 0 with "skipped: ..." when a source or a Debian package cannot be had, so a benchmark run on a
# machine without them goes on without the nfstream rows.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=$ROOT/bench/data/nfstream
NDPI_COMMIT=4bb851384efb2a321def0bdb5e93786fac1cc02b   # nfstream 6.5.4's nfstream/engine/dependencies/nDPI
skip() { echo "nfstream anchor skipped: $*" >&2; exit 0; }

if [ -x "$OUT/venv/bin/python" ] && "$OUT/venv/bin/python" -c 'import nfstream' 2>/dev/null; then
  echo "nfstream already built: $OUT/venv"; exit 0
fi
pick() { [ -d "$1" ] && echo "$1" || echo "$2"; }
NFSTREAM_GIT=${NFSTREAM_GIT:-$(pick /work/.mirror/nfstream+nfstream/repo https://github.com/nfstream/nfstream.git)}
NDPI_GIT=${NDPI_GIT:-$(pick /work/.mirror/ntop+nDPI/repo https://github.com/ntop/nDPI.git)}

need=()
for p in autoconf automake libtool pkg-config make gcc libpcap-dev python3-dev python3-cffi python3-psutil python3-venv python3-setuptools python3-wheel python3-numpy python3-pandas python3-dpkt; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || skip "needs Debian packages ${need[*]} (run as root to install them)"
  apt-get update -qq >/dev/null 2>&1
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 || skip "apt-get could not install ${need[*]}"
fi

rm -rf "$OUT/src" && mkdir -p "$OUT/src"
fetch_tree() { # git source, revision, destination, paths (the package, not its test captures)...
  local src=$1 rev=$2 dest=$3 tmp s
  shift 3
  if [ -d "$src" ]; then git --git-dir="$src" archive "$rev" -- "$@" 2>/dev/null | tar -x -C "$dest" || return 1
  else
    tmp=$(mktemp -d) && git clone -q "$src" "$tmp/r" 2>/dev/null && git -C "$tmp/r" archive "$rev" -- "$@" | tar -x -C "$dest"; s=$?; rm -rf "$tmp"; return $s
  fi
}
fetch_tree "$NFSTREAM_GIT" HEAD "$OUT/src" nfstream pyproject.toml setup.py setup.cfg README.md LICENSE MANIFEST.in requirements.txt || skip "cannot read nfstream from $NFSTREAM_GIT"
grep -q 'version = "6.5' "$OUT/src/pyproject.toml" || skip "$NFSTREAM_GIT is not nfstream 6.5"
DEPS=$OUT/src/nfstream/engine/dependencies
mkdir -p "$DEPS/nDPI"
fetch_tree "$NDPI_GIT" "$NDPI_COMMIT" "$DEPS/nDPI" . ':(exclude)tests/cfgs' ':(exclude)tests/pcap' ':(exclude)*.pcap' ':(exclude)*.pcapng' || skip "cannot read nDPI $NDPI_COMMIT from $NDPI_GIT"

# nfstream's build script, minus its libpcap fork: nDPI's library, then the preprocessed headers cffi reads.
cat > "$OUT/src/nfstream/engine/scripts/build.sh" <<'SH'
#!/usr/bin/env bash
set -euo pipefail
B=/tmp/nfstream_build
rm -rf $B && mkdir -p $B/usr/local/lib $B/usr/local/include $B/usr/lib $B/usr/include/ndpi
cd "$(dirname "$0")/../dependencies/nDPI"
./autogen.sh >/dev/null && ./configure --with-only-libndpi >/dev/null
make -C src/lib -j2 >/dev/null
cp src/lib/libndpi.a $B/usr/lib/ && cp src/include/*.h $B/usr/include/ndpi/
# Debian's shared libpcap through a linker script where nfstream links its static fork.
echo 'INPUT(-lpcap)' > $B/usr/local/lib/libpcap.a
cd ../..
gcc -DNDPI_LIB_COMPILATION -DNDPI_CFFI_PREPROCESSING -DNDPI_CFFI_PREPROCESSING_EXCLUDE_PACKED -E -x c -P -C $B/usr/include/ndpi/ndpi_typedefs.h > $B/ndpi_cdefinitions.h
gcc -DNDPI_LIB_COMPILATION -DNDPI_CFFI_PREPROCESSING -E -x c -P -C $B/usr/include/ndpi/ndpi_typedefs.h > $B/ndpi_cdefinitions_packed.h
gcc -E -x c -P -C lib_engine.c > $B/lib_engine_cdefinitions.c
SH
chmod +x "$OUT/src/nfstream/engine/scripts/build.sh"
# Packet fanout is in nfstream's libpcap fork only; live multi-meter capture is all that calls it.
sed -i 's/pcap_set_fanout_linux(pcap_handle, 1, 0x8000, (uint16_t) group_id)/-1/' "$OUT/src/nfstream/engine/lib_engine.c"

# Debian's setuptools (66) predates PEP 639's license strings.
sed -i 's/^license = "\(.*\)"$/license = { text = "\1" }/; /^license-files/d' "$OUT/src/pyproject.toml"

rm -rf "$OUT/venv"
/usr/bin/python3 -m venv --system-site-packages "$OUT/venv" || skip "/usr/bin/python3 -m venv failed"
(cd "$OUT/src" && "$OUT/venv/bin/pip" install -q --no-index --no-build-isolation --no-deps . ) > "$OUT/build.log" 2>&1 || skip "the build failed (see $OUT/build.log)"
(cd / && "$OUT/venv/bin/python" -c 'import nfstream; print("built nfstream", nfstream.__version__)') || skip "nfstream does not import (see $OUT/build.log)"
