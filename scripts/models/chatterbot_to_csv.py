"""Turns the chatterbot-corpus YAML files of one language into a labelled
CSV (text,label) for `callqa eval-intent`: the opening utterance of each
conversation, labelled with its file's category (greetings, money, ...).

Stdlib only: the files use a small, regular subset of YAML
(`- - first line` opens a conversation); they are read straight from the
wheel. Usage:
    chatterbot_to_csv.py WHEEL LANGUAGE OUT.csv     (LANGUAGE: english, chinese)
"""
import csv
import sys
import zipfile


def unquote(v):
    v = v.strip()
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
        inner = v[1:-1]
        return inner.replace("''", "'") if v[0] == "'" else inner.replace('\\"', '"')
    return v


def main(wheel, language, out):
    rows = []
    prefix = f"chatterbot_corpus/data/{language}/"
    z = zipfile.ZipFile(wheel)
    for name in sorted(n for n in z.namelist() if n.startswith(prefix) and n.endswith(".yml")):
        label = name[len(prefix):-len(".yml")]
        for line in z.read(name).decode("utf-8").splitlines():
            if line.startswith("- - "):
                text = unquote(line[4:])
                if text and text not in ("|", ">", "|-", ">-"):
                    rows.append((text, label))
    if not rows:
        sys.exit(f"no conversations found under {prefix} in {wheel}")
    with open(out, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["text", "label"])
        w.writerows(rows)
    print(f"{out}: {len(rows)} utterances, {len({r[1] for r in rows})} labels")


if __name__ == "__main__":
    main(*sys.argv[1:])
