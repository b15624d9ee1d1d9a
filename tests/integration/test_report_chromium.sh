#!/usr/bin/env bash
# The HTML report in a real browser: chaoslab report --html over the fixed
# history of tests/data/history, opened in headless Chromium (Debian's
# chromium package), offline.
#   * --dump-dom: the rendered DOM holds the three inline <svg> charts, one
#     <polyline> per practised skill whose points are numbers inside the
#     chart, and a bar per counted attempt in each bar chart;
#   * --screenshot: a 1200x1600 PNG whose pixels (decoded here with zlib)
#     show the charts' own colours — the score lines, the bars against par
#     (within par, over par, not fixed) and the hints bars — so the charts
#     were really drawn, not just present in the markup.
# The page forbids fetching anything (Content-Security-Policy), and the
# browser runs with networking features off and a fresh profile.
# Skips (77) when chromium is not installed.
set -uo pipefail

BIN=${CHAOSLAB_BIN:-build/chaoslab}
SRC=${CHAOSLAB_SRC:-.}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

chromium=""
for c in chromium chromium-browser; do
	if command -v "$c" >/dev/null 2>&1; then
		chromium=$c
		break
	fi
done
[ -n "$chromium" ] || { echo "SKIP: chromium is not installed (Debian: apt-get install chromium)"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 is needed to check the PNG"; exit 77; }
[ -x "$BIN" ] || { echo "FAIL: no chaoslab binary at $BIN (set CHAOSLAB_BIN)"; exit 1; }

export CHAOSLAB_SCENARIOS="$SRC/tests/data/history/catalog/scenarios"
"$BIN" report --html "$tmp/report.html" --results "$SRC/tests/data/history/results" 2>"$tmp/err" ||
	{ cat "$tmp/err"; echo "FAIL: chaoslab report --html"; exit 1; }

browse() { # FLAG...
	timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$(mktemp -d "$tmp/profile.XXXXXX")" "$@" "file://$tmp/report.html" \
		2>>"$tmp/chromium.log"
}

browse --dump-dom >"$tmp/dom.html"
[ -s "$tmp/dom.html" ] || { tail -5 "$tmp/chromium.log"; echo "FAIL: --dump-dom gave nothing"; exit 1; }
browse --screenshot="$tmp/shot.png" --window-size=1200,1600 >/dev/null
[ -s "$tmp/shot.png" ] || { tail -5 "$tmp/chromium.log"; echo "FAIL: no screenshot"; exit 1; }
if [ -n "${CHAOSLAB_KEEP_SCREENSHOT:-}" ]; then
	cp "$tmp/shot.png" "$CHAOSLAB_KEEP_SCREENSHOT"
fi

python3 - "$tmp/dom.html" "$tmp/shot.png" <<'EOF'
import re, struct, sys, zlib

fails = []
def check(ok, what):
    print(("ok: " if ok else "FAIL: ") + what)
    if not ok:
        fails.append(what)

dom = open(sys.argv[1]).read()
svgs = re.findall(r"<svg\b[^>]*>", dom)
check(len(svgs) == 3, "three <svg> charts in the rendered DOM (%d)" % len(svgs))
boxes = [tuple(map(float, re.search(r'viewBox="0 0 (\d+) (\d+)"', s).groups())) for s in svgs]
polys = re.findall(r'<polyline\b[^>]*\bpoints="([^"]*)"', dom)
check(len(polys) == 6, "one polyline per practised skill (%d, want 6)" % len(polys))
w, h = boxes[0]
inside = all(0 <= float(x) <= w and 0 <= float(y) <= h
             for pts in polys for x, y in (p.split(",") for p in pts.split()))
check(polys and inside, "every polyline point is a number pair inside the score chart")
check(sum(len(p.split()) for p in polys) == 12,
      "the score lines have one point per attempt and skill (12)")
bars = re.findall(r'<rect class="bar"[^>]*height="([\d.]+)"', dom)
check(len(bars) == 14 and all(float(b) >= 0 for b in bars),
      "a bar per counted attempt in both bar charts (%d, want 14)" % len(bars))
check("<script" not in dom, "no script in the page")

data = open(sys.argv[2], "rb").read()
check(data[:8] == b"\x89PNG\r\n\x1a\n", "the screenshot is a PNG")
pos, idat, ihdr = 8, b"", None
while pos < len(data):
    n, = struct.unpack(">I", data[pos:pos + 4])
    kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        ihdr = struct.unpack(">IIBBBBB", body)
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
width, height, depth, ctype, _, _, interlace = ihdr
check((width, height) == (1200, 1600), "the screenshot is 1200x1600 (%dx%d)" % (width, height))
if depth != 8 or ctype not in (2, 6) or interlace:
    check(False, "a PNG layout this check reads (8-bit RGB/RGBA, not interlaced)")
    sys.exit(1)
bpp = 3 if ctype == 2 else 4
raw, stride = zlib.decompress(idat), width * bpp
rows, prev, i = [], bytearray(stride), 0
for _ in range(height):
    f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
    i += 1 + stride
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0
        b, c = prev[x], prev[x - bpp] if x >= bpp else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(bytes(line))
    prev = line
counts = {}
for row in rows:
    for x in range(0, stride, bpp):
        px = row[x:x + 3]
        counts[px] = counts.get(px, 0) + 1
def pixels(hexcolour):
    return counts.get(bytes.fromhex(hexcolour), 0)
check(len(counts) > 50, "the screenshot is not blank (%d colours)" % len(counts))
for colour, what, least in [("d62728", "the linux.process score line", 40),
                            ("9467bd", "the net.dns score line", 40),
                            ("2a9d55", "bars fixed within par", 1000),
                            ("e0a030", "bars fixed over par", 1000),
                            ("c0392b", "bars not fixed", 1000),
                            ("6a51a3", "hints bars", 1000)]:
    n = pixels(colour)
    check(n >= least, "%s drawn: %d pixels of #%s" % (what, n, colour))
sys.exit(1 if fails else 0)
EOF
rc=$?
[ $rc = 0 ] && echo "PASS" || echo "FAIL"
exit $rc
