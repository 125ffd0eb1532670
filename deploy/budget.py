"""The per-function size budget, measured on the binaries a platform's own
build produced: at most 10 MB (10,000,000 bytes) as built and 4 MB
(4,000,000 bytes) zipped, the form a Lambda upload takes (one file,
deflate). Prints one row per function and exits 1 when any is over.

    python3 deploy/budget.py NAME=PATH [NAME=PATH ...]
"""

import io
import os
import sys
import zipfile

MAX_BYTES = 10_000_000
MAX_ZIPPED_BYTES = 4_000_000


def zipped_size(path: str) -> int:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.write(path, arcname=os.path.basename(path))
    return len(buffer.getvalue())


def main(pairs: list[str]) -> int:
    if not pairs:
        print("budget.py: no binaries given", file=sys.stderr)
        return 2
    over = 0
    print(f"{'function':<20} {'bytes':>11} {'MB':>6} {'zipped':>11} {'MB':>6}  verdict")
    for pair in pairs:
        name, _, path = pair.partition("=")
        if not os.path.isfile(path):
            print(f"{name:<20} missing: {path}")
            over += 1
            continue
        size = os.path.getsize(path)
        zipped = zipped_size(path)
        ok = size <= MAX_BYTES and zipped <= MAX_ZIPPED_BYTES
        over += 0 if ok else 1
        verdict = "ok" if ok else "OVER BUDGET"
        print(f"{name:<20} {size:>11,} {size / 1e6:>6.2f} {zipped:>11,} {zipped / 1e6:>6.2f}  {verdict}")
    print(f"budget: <= {MAX_BYTES / 1e6:.0f} MB per binary, <= {MAX_ZIPPED_BYTES / 1e6:.0f} MB zipped: "
          + ("met by every function" if over == 0 else f"{over} over or missing"))
    return 0 if over == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
