# Copies single files out of a wheel (zip) or sdist (tar.gz) without unpacking
# the rest; stdlib only. Sdist members are named without their top directory.
# Usage: extract.py ARCHIVE MEMBER=DEST [MEMBER=DEST ...]
import os
import shutil
import sys
import tarfile
import zipfile


def main():
    archive, pairs = sys.argv[1], [a.split("=", 1) for a in sys.argv[2:]]
    want = dict(pairs)
    found = {}
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            for m in want:
                if m in z.namelist():
                    found[m] = True
                    copy(z.open(m), want[m])
    else:
        with tarfile.open(archive, "r:*") as t:
            for info in t:
                rel = info.name.split("/", 1)[-1]
                if info.isfile() and rel in want and rel not in found:
                    found[rel] = True
                    copy(t.extractfile(info), want[rel])
    missing = [m for m in want if m not in found]
    if missing:
        sys.exit(f"extract: {os.path.basename(archive)} has no {', '.join(missing)}")


def copy(src, dest):
    os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
    with src, open(dest + ".tmp", "wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)
    os.chmod(dest + ".tmp", 0o644)
    os.replace(dest + ".tmp", dest)


if __name__ == "__main__":
    main()
