# The main job on local Google Cloud: sourced by `scripts/demo.sh --cloud gcp`, which defines `step`, `mlops`
# (timed) and the timing table. The same CLI commands as the AWS demo, with cloud gcp settings: Google's emulators
# (GCS, Pub/Sub, Firestore) started by `mlops local up`, the GCP program applied to them (stack gcp-local); what
# has no emulator is played by the kit's local runners (docs/gcp.md says which steps run here and which do not).
export MLOPS_CLOUD=gcp MLOPS_TARGET=gcp-emulators MLOPS_STACK="${MLOPS_STACK:-gcp-local}"

step "Provision: start Google's emulators (GCS, Pub/Sub, Firestore) and apply the GCP program to them"
mlops local up

step "Card transactions, first quarter: generate, ingest into GCS (a second ingest of the same file stores nothing)"
mlops data generate card_transactions --rows "$ROWS" --seed 1 --start 2024-01-01 --out "$WORK/transactions-q1.csv"
mlops data ingest card_transactions "$WORK/transactions-q1.csv"
mlops data ingest card_transactions "$WORK/transactions-q1.csv"

step "Validate against the dataset definition; bad rows to the quarantine bucket, figures to the metrics store"
mlops data validate card_transactions --all-pending

step "Second quarter as events on Pub/Sub (ordering key: the customer); the consumer keeps Firestore's features current"
mlops data generate card_transactions --rows "$ROWS" --seed 2 --start 2024-04-01 --drift-start 2024-05-25 \
    --drift new_category --drift amount_shift --out "$WORK/transactions-q2.parquet"
mlops stream produce card_transactions "$WORK/transactions-q2.parquet"   # invalid rows are quarantined, not sent
mlops stream consume card_transactions --idle-seconds 2

step "Done"
mlops local status
cat <<TXT

Google's emulators are still running (stack $MLOPS_STACK):
  MLOPS_CLOUD=gcp MLOPS_TARGET=gcp-emulators MLOPS_STACK=$MLOPS_STACK mlops local status
  MLOPS_CLOUD=gcp MLOPS_TARGET=gcp-emulators mlops local down     stop them
TXT
