#!/usr/bin/env bash
# The text models on external, human-labelled data they never trained on
# (../shared/eval-data, see its README): sentiment accuracy and macro F1 per
# file, intent 5- and 10-shot accuracy per data set and method, and how
# customer sentiment and predicted satisfaction rank rated dialogues
# (Spearman). Prints the load average. docs/models.md quotes its output.
#
# Usage: scripts/eval-text-models.sh [--only sentiment,intent,dialogue] [EVAL_DIR]
# Env: CALLQA (binary; default: cargo build, target/debug/callqa), HEAD (the
#      sentiment head to evaluate, default models/sentiment/head.json),
#      INTENT_ENCODER (use or e5, default use: the gate), JOINT_WITH (e5, the
#      default as in the pipeline: labels in the joint USE+e5 space; empty:
#      labels by INTENT_ENCODER alone), METHODS (default nearest,centroid,logistic)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ONLY="sentiment,intent,dialogue"
if [ "${1:-}" = "--only" ]; then ONLY="$2"; shift 2; fi
DIR="${1:-../shared/eval-data}"
[ -d "$DIR/text" ] || { echo "callqa: error: $DIR/text not found (evaluation data, see ../shared/eval-data/README.md)" >&2; exit 1; }
if [ -z "${CALLQA:-}" ]; then
  cargo build --locked --quiet --bin callqa
  CALLQA="${CARGO_TARGET_DIR:-target}/debug/callqa"
fi
HEAD="${HEAD:-models/sentiment/head.json}"
T="$DIR/text"
echo "cores: $(nproc); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
case ",$ONLY," in *,sentiment,*)
  args=()
  for f in zh_chnsenticorp_clean zh_htl_2k zh_shopping_2k zh_waimai_2k zh_conversation_2k \
           en_uci_reviews en_sst2_test en_airline_3k; do
    args+=(--data "$T/$f.csv")
  done
  echo "== sentiment ($HEAD), every text a test text"
  "$CALLQA" eval-sentiment --head "$HEAD" --test-fraction 1.0 "${args[@]}" 2>&1 | grep -v '^callqa: embedding'
esac
case ",$ONLY," in *,intent,*)
  m="${METHODS:-nearest,centroid,logistic}"
  e="${INTENT_ENCODER:-use}"
  j="${JOINT_WITH-e5}"
  jw=(--no-joint); [ -z "$j" ] || jw=(--joint-with "$j")
  echo "== intent (encoder $e${j:+, labels in the joint space with $j})"
  "$CALLQA" eval-intent --encoder "$e" "${jw[@]}" --method "$m" --shots 5,10 --lang en \
    --train "$T/intent_banking77_train.csv" --data "$T/intent_banking77_test.csv" 2>&1 | sed -n '/^summary/,$p'
  "$CALLQA" eval-intent --encoder "$e" "${jw[@]}" --method "$m" --shots 5,10 --lang en --out-of-scope oos \
    --train "$T/intent_clinc150_train.csv" --data "$T/intent_clinc150_test.csv" \
    --data "$T/intent_clinc150_oos_test.csv" 2>&1 | sed -n '/^summary/,$p'
  for f in intent_smp2019_domain intent_smp2020_domain; do
    "$CALLQA" eval-intent --encoder "$e" "${jw[@]}" --method "$m" --shots 5,10 --lang zh \
      --data "$T/$f.csv" 2>&1 | sed -n '/^summary/,$p'
  done
esac
case ",$ONLY," in *,dialogue,*)
  echo "== rated dialogues"
  "$CALLQA" eval-dialogue --lang zh --data "$DIR/dialog/stc3_zh_dev.jsonl" 2>&1 | grep -v '^callqa: [0-9]'
esac
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
