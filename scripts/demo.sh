#!/usr/bin/env bash
# The main job: the whole platform end to end on the embedded emulator, for both shipped datasets.
#
#   provision (Pulumi program applied to moto) -> generate -> ingest -> validate (+ quarantine) -> Glue curate
#   -> Glue features -> train (SageMaker contract) -> MLflow + registry -> promotion gate -> online store
#   -> deploy (SageMaker hosting contract) -> predict -> batch predict -> drifted data (Kinesis stream + batch)
#   -> monitoring and alarms
#   -> the alarms close the loop themselves: retrain rule -> training pipeline -> gate -> promote -> redeploy,
#      and the recovery figure; beside monitoring and the alarms, the same pipeline on a second, real dataset
#
# Everything runs through the `mlops` CLI, the same commands a user types. The emulator and the endpoint keep
# running afterwards so you can explore; `mlops endpoint stop && mlops local down` stops both.
# Environment: DEMO_ROWS (default 30000) rows of card transactions per batch.
# At the end (also after a failure) a table of each step's wall time and the slowest commands; `--json` prints
# the same as one JSON object on stdout as the last line (also written to $STATE_DIR/demo/timings.json).
# `--cloud gcp`: the same steps on local Google Cloud, as far as they run there (scripts/demo_gcp.sh, docs/gcp.md).
set -euo pipefail
JSON_TIMINGS=false
CLOUD=aws
while [ $# -gt 0 ]; do
    case "$1" in
        --json) JSON_TIMINGS=true ;;
        --cloud) CLOUD="${2:?--cloud takes aws or gcp}"; shift ;;
        *) echo "usage: scripts/demo.sh [--json] [--cloud aws|gcp]" >&2; exit 2 ;;
    esac
    shift
done
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"

ROWS="${DEMO_ROWS:-30000}"
# The blue/green redeploy after the retrain bakes each canary step and keeps blue this long at most (the setting
# `services.endpoint.local_max_wait_seconds`, docs/serving.md; default 10 s): every stage and alarm check still
# runs, and the stack's 3-period rollback alarms cannot fire within 10 s either, so the demo does not wait them out.
export MLOPS_SERVICES__ENDPOINT__LOCAL_MAX_WAIT_SECONDS="${MLOPS_SERVICES__ENDPOINT__LOCAL_MAX_WAIT_SECONDS:-1}"
STATE_DIR="${MLOPS_STATE_DIR:-.mlops}"
WORK="$STATE_DIR/demo"
mkdir -p "$WORK"

# Timings: one line per step and per `mlops` command ("kind<TAB>start<TAB>end<TAB>name", epoch seconds) in $TIMINGS.
TIMINGS="$WORK/timings.tsv"
: > "$TIMINGS"
now() { date +%s.%N; }
STEP_NAME="" STEP_START="" DEMO_START="$(now)"
end_step() {
    if [ -n "$STEP_NAME" ]; then printf 'step\t%s\t%s\t%s\n' "$STEP_START" "$(now)" "$STEP_NAME" >> "$TIMINGS"; fi
    STEP_NAME=""  # ended once: the next step (or the exit) does not end it again
}
step() {
    end_step
    STEP_NAME="$*" STEP_START="$(now)"
    printf '\n\033[1;34m==> %s\033[0m\n' "$*"
}
mlops() {  # every `mlops` command of the demo, timed
    local started status=0
    started="$(now)"
    command mlops "$@" || status=$?
    printf 'command\t%s\t%s\t%s\n' "$started" "$(now)" "mlops $*" >> "$TIMINGS"
    return "$status"
}
timing_table() {
    local status=$?
    stop_background
    end_step
    python "$(dirname "${BASH_SOURCE[0]}")/demo_timings.py" "$TIMINGS" "$DEMO_START" "$(now)" "$status" \
        "$JSON_TIMINGS" "$WORK/timings.json" || true
}
score_requests() {  # the deployed champion scores a known customer (features from the online store) and a CSV
    local customer
    customer=$(python -c "import csv, sys; print(next(csv.DictReader(open(sys.argv[1])))['customer_id'])" "$WORK/transactions-q1.csv")
    printf '{"dataframe_records": [{"customer_id": "%s"}]}\n' "$customer" > "$WORK/request-entity.json"
    mlops predict "$WORK/request-entity.json"
    cat > "$WORK/request.csv" <<'CSV'
amount,category,channel,country,hour_of_day,day_of_week,seconds_since_last_txn,txn_count_1h,txn_count_24h,amount_mean_7d,amount_max_7d,amount_std_30d,amount_sum_24h
24.5,grocery,card_present,US,14,2,86400,1,2,31.0,60.0,12.0,55.5
950.0,electronics,online,NG,3,6,45,5,7,80.0,950.0,120.0,1900.0
CSV
    mlops predict "$WORK/request.csv" --content-type text/csv
}
# Three parts of the demo run in the background, each beside the steps that follow it, one at a time: the batch
# inference beside the online store, the deploy and its requests; the stream step beside the batch step of the
# same quarter; the diabetes pipeline beside monitoring and the alarms. Each one's output is kept in its log and
# shown when it ends; the demo fails if it fails.
BACKGROUND_PID="" BACKGROUND_LOG="" BACKGROUND_NAME=""
in_background() {  # NAME FUNCTION: FUNCTION runs beside the steps that follow, its output in $WORK/FUNCTION.log
    BACKGROUND_NAME="$1" BACKGROUND_LOG="$WORK/$2.log"
    # STEP_NAME cleared in the subshell: the step the main shell is in is the main shell's to end
    { STEP_NAME=""; "$2"; } > "$BACKGROUND_LOG" 2>&1 &
    BACKGROUND_PID=$!
}
# The batch inference reads the champion and the feature table and writes only the predictions dataset (which
# monitoring reads later); the steps beside it write the online store and run the endpoint.
batch_inference() {
    step "Batch inference: score the feature table into a predictions dataset"
    mlops batch-predict card_transactions
    end_step
}
# The stream writes only the online store and reads the curated table as the first quarter left it (the batch
# beside it curates the second quarter into a newer version), so neither sees the other's work.
stream_events() {
    step "The same quarter as events on Kinesis: the stream consumer keeps the online features current"
    mlops stream produce card_transactions "$WORK/transactions-q2.parquet"   # invalid rows are quarantined, not sent
    mlops stream consume card_transactions --seed-from-curated --seed-version "$CURATED_Q1" --idle-seconds 2
    end_step
}
# The diabetes pipeline shares nothing with the card steps it runs beside (monitoring, the alarms' retrain and
# redeploy) and starts once the card's Glue job runs are done: the stack's Glue jobs take one run at a time, as
# Glue does.
diabetes_pipeline() {
    step "Diabetes (scikit-learn's real data, regression): the same pipeline, beside monitoring and the alarms"
    mlops data generate diabetes --out "$WORK/diabetes.csv"
    mlops data ingest diabetes "$WORK/diabetes.csv"
    mlops data validate diabetes --all-pending
    mlops job run curate --arg dataset=diabetes
    mlops job run build_features --arg dataset=diabetes
    mlops train run diabetes
    mlops model promote diabetes
    mlops batch-predict diabetes
    end_step
}
wait_for_background() {
    local status=0
    wait "$BACKGROUND_PID" || status=$?
    BACKGROUND_PID=""
    cat "$BACKGROUND_LOG"
    if [ "$status" -ne 0 ]; then echo "the $BACKGROUND_NAME failed (exit $status)" >&2; fi
    return "$status"
}
stop_background() {  # the demo is ending early: the background part and its running command stop with it
    if [ -n "$BACKGROUND_PID" ] && kill -0 "$BACKGROUND_PID" 2>/dev/null; then
        pkill -TERM -P "$BACKGROUND_PID" 2>/dev/null || true
        kill "$BACKGROUND_PID" 2>/dev/null || true
        wait "$BACKGROUND_PID" 2>/dev/null || true
        echo "the $BACKGROUND_NAME was stopped; its output so far: $BACKGROUND_LOG" >&2
    fi
}
trap timing_table EXIT

if [ "$CLOUD" = gcp ]; then
    source "$(dirname "${BASH_SOURCE[0]}")/demo_gcp.sh"
    exit 0
elif [ "$CLOUD" != aws ]; then
    echo "--cloud takes aws or gcp, not $CLOUD" >&2
    exit 2
fi

# The demo's story starts from an empty platform (its gate promotes the first model it trains): one an earlier run
# left running is stopped first. Its MLflow store is moved aside, not deleted (`mlops local down` says where).
if [ -e "$STATE_DIR/emulator/state.json" ]; then
    step "An earlier run's platform is up in $STATE_DIR: stop it, the demo starts from an empty one"
    # that run may have ended before its deploy: no endpoint to stop is not a reason to stop here (its error shows)
    mlops endpoint stop || true
    mlops local down
fi

step "Provision: start the embedded AWS emulator and apply the infra program to it"
mlops local up

step "Card transactions, first quarter: generate, ingest (a second ingest of the same file stores nothing)"
mlops data generate card_transactions --rows "$ROWS" --seed 1 --start 2024-01-01 --out "$WORK/transactions-q1.csv"
mlops data ingest card_transactions "$WORK/transactions-q1.csv"
mlops data ingest card_transactions "$WORK/transactions-q1.csv"

step "Validate against the dataset definition (Great Expectations); figures go to CloudWatch"
mlops data validate card_transactions --all-pending

step "Glue jobs, run locally with PySpark: curate (de-duplicate into Delta), then build features"
mlops job run curate --arg dataset=card_transactions --json > "$WORK/curate-q1.json"  # its record, for the stream
mlops job run build_features --arg dataset=card_transactions
CURATED_Q1=$(python -c 'import json, sys; print(json.load(open(sys.argv[1]))["counts"]["table_version"])' \
    "$WORK/curate-q1.json")

step "Train (SageMaker training contract), track in MLflow, register the challenger, promote it"
mlops train run card_transactions
mlops model promote card_transactions
in_background "batch inference" batch_inference

step "Online feature store: latest features per customer into DynamoDB"
mlops features materialize card_transactions

step "Deploy the champion behind a SageMaker-compatible endpoint and score requests"
mlops deploy card_transactions
score_requests

step "Second quarter: from late May the data drifts (an unknown category, larger amounts, a new fraud pattern)"
mlops data generate card_transactions --rows "$ROWS" --seed 2 --start 2024-04-01 --drift-start 2024-05-25 \
    --drift new_category --drift amount_shift --drift fraud_pattern --out "$WORK/transactions-q2.parquet"
end_step
wait_for_background  # the batch inference's output, shown once it ends

in_background "stream step" stream_events

step "The same quarter as a batch for the offline store, beside the stream"
mlops data ingest card_transactions "$WORK/transactions-q2.parquet"
mlops data validate card_transactions --all-pending   # the unknown category is quarantined, with its reason
mlops job run curate --arg dataset=card_transactions
mlops job run build_features --arg dataset=card_transactions
end_step
wait_for_background  # the stream step's output, shown once it ends

in_background "diabetes pipeline" diabetes_pipeline

step "Monitoring: data drift against the champion's training data, model quality on labelled windows"
mlops monitor drift card_transactions --since 2024-06-01   # the newest month against the training data
mlops monitor performance card_transactions

step "The alarms close the loop: retrain rule -> training pipeline -> quality bar -> gate -> promote -> deploy"
# No manual step: the alarms entering ALARM match the retrain rule, whose target (the training pipeline) the kit
# starts through the training port, as EventBridge does on AWS. The pipeline holds out the newest two weeks (the
# present, per the dataset definition's `training` section) and weights recent rows; the gate scores challenger
# and champion on that same holdout; a new champion is deployed blue/green.
mlops monitor alarms --evaluate       # CloudWatch semantics; actions: SNS, the retrain rule's pipeline, the gate
mlops monitor status                  # every action the alarms ran, and how it ended
mlops model list card_transactions
mlops monitor recovery card_transactions   # the served model's PR-AUC on post-drift rows, before and after

end_step
wait_for_background  # its own step's time is in the table; any wait here only in the total

step "Done"
mlops local status
cat <<TXT

The platform is still running:
  mlops mlflow ui                 experiments and registered models
  mlops endpoint status           the local endpoint serving card_transactions
  mlops endpoint stop && mlops local down    stop everything
TXT
