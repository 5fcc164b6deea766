# The main job on local Google Cloud: sourced by `scripts/demo.sh --cloud gcp`, which defines `step`, `mlops`
# (timed), `score_requests` and the timing table. The same CLI commands as the AWS demo, with cloud gcp settings:
# Google's emulators (GCS, Pub/Sub, Firestore) started by `mlops local up`, the GCP program applied to them (stack
# gcp-local); what has no emulator (Dataproc, Vertex AI, Cloud Monitoring's evaluation) is played by the kit's local
# runners on those services' contracts. Not here: the AWS demo's second dataset (diabetes), to keep the run short.
export MLOPS_CLOUD=gcp MLOPS_TARGET=gcp-emulators MLOPS_STACK="${MLOPS_STACK:-gcp-local}"

step "Provision: start Google's emulators (GCS, Pub/Sub, Firestore) and apply the GCP program to them"
mlops local up

step "Card transactions, first quarter: generate, ingest into GCS (a second ingest of the same file stores nothing)"
mlops data generate card_transactions --rows "$ROWS" --seed 1 --start 2024-01-01 --out "$WORK/transactions-q1.csv"
mlops data ingest card_transactions "$WORK/transactions-q1.csv"
mlops data ingest card_transactions "$WORK/transactions-q1.csv"

step "Validate against the dataset definition; bad rows to the quarantine bucket, figures to the metrics store"
mlops data validate card_transactions --all-pending

step "Dataproc batches, run locally with PySpark: curate (de-duplicate into Delta on GCS), then build features"
mlops job run curate --arg dataset=card_transactions
mlops job run build_features --arg dataset=card_transactions

step "Train (the pipeline definition; training as a Vertex custom job), track in MLflow, register, promote"
mlops train run card_transactions
mlops model promote card_transactions

step "Online feature store: latest features per customer into Firestore"
mlops features materialize card_transactions

step "Deploy the champion on Vertex's custom-container contract and score requests"
mlops deploy card_transactions
score_requests

step "Batch inference: score the feature table into a predictions dataset (a Vertex batch prediction job, played locally)"
mlops batch-predict card_transactions

step "Second quarter: from late May the data drifts (an unknown category, larger amounts, a new fraud pattern)"
mlops data generate card_transactions --rows "$ROWS" --seed 2 --start 2024-04-01 --drift-start 2024-05-25 \
    --drift new_category --drift amount_shift --drift fraud_pattern --out "$WORK/transactions-q2.parquet"

step "The same quarter as events on Pub/Sub (ordering key: the customer); the consumer keeps Firestore's features current"
mlops stream produce card_transactions "$WORK/transactions-q2.parquet"   # invalid rows are quarantined, not sent
mlops stream consume card_transactions --seed-from-curated --idle-seconds 2

step "...and as a batch for the offline store"
mlops data ingest card_transactions "$WORK/transactions-q2.parquet"
mlops data validate card_transactions --all-pending   # the unknown category is quarantined, with its reason
mlops job run curate --arg dataset=card_transactions
mlops job run build_features --arg dataset=card_transactions

step "Monitoring: data drift against the champion's training data, model quality on labelled windows"
mlops monitor drift card_transactions --since 2024-06-01
mlops monitor performance card_transactions

step "Alert policies with Cloud Monitoring's semantics (played locally): incidents, the retrain subscription, the gate"
mlops monitor alarms --evaluate
mlops monitor status
mlops model list card_transactions

step "Done"
mlops local status
cat <<TXT

Google's emulators and the endpoint are still running (stack $MLOPS_STACK):
  export MLOPS_CLOUD=gcp MLOPS_TARGET=gcp-emulators MLOPS_STACK=$MLOPS_STACK
  mlops endpoint status          the local endpoint serving card_transactions
  mlops endpoint stop && mlops local down     stop everything
TXT
