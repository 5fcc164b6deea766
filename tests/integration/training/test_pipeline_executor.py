"""The training pipeline executed on the emulator by the local pipeline executor, from the definition the stack
deployed: a good model is registered through the registry service; a model below the quality bar fails the
execution at QualityBarNotMet and registers nothing; a failing training job fails it at Train. A user's own boto3
client sees each execution's steps and status as the executor recorded them (the front door answers for moto)."""

from __future__ import annotations

import json
import secrets

import pytest
from botocore.exceptions import ClientError

from mlops.contracts import CHALLENGER
from mlops.local.clients import clients_of
from mlops.local.training_runner import REASON_TAG, STATUS_TAG, describe_job
from mlops.platform import Platform
from mlops.ports.training import PipelineParameterError
from pipelines.training.workflow import train_dataset
from tests.integration.serving.frontdoor_support import plain_client
from tests.integration.training.support import publish_dataset
from tests.unit.training.synthetic import definition, end_time, feature_frame

pytestmark = pytest.mark.emulator

FAST = {"max_iter": "30", "search_learning_rate": "0.2", "search_max_leaf_nodes": "15"}


def _packages_of(platform: Platform, dataset: str) -> list[str]:
    sagemaker = clients_of(platform).client("sagemaker")
    listed = sagemaker.list_model_packages(ModelPackageGroupName=platform.outputs.model_package_group, MaxResults=100)
    arns = [p["ModelPackageArn"] for p in listed["ModelPackageSummaryList"]]
    described = [sagemaker.describe_model_package(ModelPackageName=arn) for arn in arns]
    return [
        d["ModelPackageArn"]
        for d in described
        if d.get("CustomerMetadataProperties", {}).get("mlflow_model") == dataset
    ]


def test_a_good_model_runs_every_step_and_is_registered_with_the_executions_lineage(platform: Platform) -> None:
    spec = definition(f"pipe_ok_{secrets.token_hex(3)}")
    frame = feature_frame(1200)
    publish_dataset(platform, spec, frame)
    run = train_dataset(platform, spec, hyperparameters=FAST, cutoff=end_time(frame))
    execution = run.execution

    assert execution.status == "Succeeded", execution.failure_reason
    assert [(s.name, s.status) for s in execution.steps] == [
        ("Prepare", "Succeeded"),
        ("Train", "Succeeded"),
        ("Evaluate", "Succeeded"),
        ("QualityBar", "Succeeded"),
        ("Register", "Succeeded"),
    ]
    assert execution.step("QualityBar").metadata == {"Condition": {"Outcome": "True"}}  # type: ignore[union-attr]
    assert execution.parameters["MaxIter"] == "30" and execution.parameters["MinQualitySkill"] == "0.1"
    assert platform.services.training.describe(execution.arn) == execution

    # a user's own boto3 client sees the same steps and status (moto alone: a 500 and "Succeeded" at the start)
    client = plain_client(platform, "sagemaker")
    listed = client.list_pipeline_execution_steps(PipelineExecutionArn=execution.arn, SortOrder="Ascending")
    steps = listed["PipelineExecutionSteps"]
    assert [(s["StepName"], s["StepStatus"]) for s in steps] == [(s.name, s.status) for s in execution.steps]
    train = execution.step("Train")
    assert train is not None and steps[1]["Metadata"] == {"TrainingJob": {"Arn": train.metadata["TrainingJob"]["Arn"]}}
    assert steps[0]["StartTime"] <= steps[0]["EndTime"] <= steps[1]["StartTime"]
    described = client.describe_pipeline_execution(PipelineExecutionArn=execution.arn)
    assert described["PipelineExecutionStatus"] == "Succeeded" and "FailureReason" not in described

    challenger = platform.services.model_registry.version(spec.name, CHALLENGER)
    job = describe_job(platform, challenger.tags["training_job"])
    assert job.status == "Completed" and job.hyperparameters["max_iter"] == "30"
    assert challenger.tags["pipeline_execution"] == execution.arn
    assert challenger.tags["dataset_version"] == "0"
    assert challenger.tags["model_artifact"] == job.model_artifact
    assert challenger.tags["holdout_uri"].endswith(f"/training/validation/{execution.arn.rsplit('/', 1)[1]}/")
    assert challenger.metrics["validation_pr_auc"] == pytest.approx(job.metrics["validation:pr_auc"])
    assert _packages_of(platform, spec.name) == [challenger.model_package_arn]

    # the emulator holds the execution and the jobs the steps ran as, as SageMaker would
    sagemaker = clients_of(platform).client("sagemaker")
    assert sagemaker.describe_pipeline_execution(PipelineExecutionArn=execution.arn)["PipelineExecutionArn"]
    register_job = execution.step("Register").metadata["ProcessingJob"]["Arn"]  # type: ignore[union-attr]
    described = sagemaker.describe_processing_job(ProcessingJobName=register_job.rsplit("/", 1)[1])
    assert described["AppSpecification"]["ContainerEntrypoint"][-1] == "pipelines.training.register_step"
    report = platform.services.object_store.get(
        platform.outputs.models_bucket,
        f"training/reports/{execution.arn.rsplit('/', 1)[1]}/registration/registration.json",
    )
    assert json.loads(report)["model_version"] == challenger.version

    # the stack bound the jobs' key and placement; the emulator records them (nothing enforces them locally), and
    # outputs land SSE-KMS under the key bound to OutputKmsKeyId (the bucket's default: the object store port
    # takes no per-object key)
    bound = execution.parameters
    assert bound["OutputKmsKeyId"].startswith("arn:aws:kms:") and bound["SubnetIdA"].startswith("subnet-")
    assert described["NetworkConfig"] == {
        "EnableInterContainerTrafficEncryption": True,
        "EnableNetworkIsolation": False,  # Register calls MLflow and the SageMaker API
        "VpcConfig": {
            "SecurityGroupIds": [bound["SecurityGroupId"]],
            "Subnets": [bound["SubnetIdA"], bound["SubnetIdB"]],
        },
    }
    assert described["ProcessingOutputConfig"]["KmsKeyId"] == bound["OutputKmsKeyId"]
    prepare_job = execution.step("Prepare").metadata["ProcessingJob"]["Arn"]  # type: ignore[union-attr]
    prepared = sagemaker.describe_processing_job(ProcessingJobName=prepare_job.rsplit("/", 1)[1])
    assert prepared["NetworkConfig"]["EnableNetworkIsolation"] is True
    head = (
        clients_of(platform)
        .client("s3")
        .head_object(
            Bucket=platform.outputs.models_bucket,
            Key=f"training/reports/{execution.arn.rsplit('/', 1)[1]}/registration/registration.json",
        )
    )
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", bound["OutputKmsKeyId"])


def test_a_model_below_the_quality_bar_fails_the_execution_and_registers_nothing(platform: Platform) -> None:
    spec = definition(f"pipe_low_{secrets.token_hex(3)}")
    frame = feature_frame(1200)
    # labels shuffled across rows: nothing to learn, the model is no better than the positive rate
    frame["is_fraud"] = frame["is_fraud"].sample(frac=1.0, random_state=11).to_numpy()
    publish_dataset(platform, spec, frame)
    execution = train_dataset(platform, spec, hyperparameters=FAST, cutoff=end_time(frame)).execution

    assert execution.status == "Failed"
    assert [(s.name, s.status) for s in execution.steps] == [
        ("Prepare", "Succeeded"),
        ("Train", "Succeeded"),
        ("Evaluate", "Succeeded"),
        ("QualityBar", "Succeeded"),
        ("QualityBarNotMet", "Failed"),
    ]
    assert execution.step("QualityBar").metadata == {"Condition": {"Outcome": "False"}}  # type: ignore[union-attr]
    skill = float(execution.failure_reason.split("model skill ")[1].split(" ")[0])
    assert skill < 0.1
    assert (
        execution.failure_reason
        == f"step 'QualityBarNotMet' failed: model skill {skill!r} is below MinQualitySkill 0.1"
    )
    assert platform.services.model_registry.versions(spec.name) == []
    assert _packages_of(platform, spec.name) == []

    client = plain_client(platform, "sagemaker")
    described = client.describe_pipeline_execution(PipelineExecutionArn=execution.arn)
    assert (described["PipelineExecutionStatus"], described["FailureReason"]) == ("Failed", execution.failure_reason)
    summaries = client.list_pipeline_executions(PipelineName=platform.outputs.training_pipeline_name)
    (summary,) = [s for s in summaries["PipelineExecutionSummaries"] if s["PipelineExecutionArn"] == execution.arn]
    assert summary["PipelineExecutionStatus"] == "Failed"
    newest = client.list_pipeline_execution_steps(PipelineExecutionArn=execution.arn, MaxResults=1)  # newest first
    assert [s["StepName"] for s in newest["PipelineExecutionSteps"]] == ["QualityBarNotMet"]
    rest = client.list_pipeline_execution_steps(PipelineExecutionArn=execution.arn, NextToken=newest["NextToken"])
    assert [s["StepName"] for s in rest["PipelineExecutionSteps"]] == ["QualityBar", "Evaluate", "Train", "Prepare"]
    assert "NextToken" not in rest
    assert newest["PipelineExecutionSteps"][0]["FailureReason"] == execution.step("QualityBarNotMet").failure_reason  # type: ignore[union-attr]


def test_an_execution_started_by_a_client_of_ones_own_has_no_steps_and_an_unknown_one_is_not_found(
    platform: Platform,
) -> None:
    client = plain_client(platform, "sagemaker")
    started = client.start_pipeline_execution(PipelineName=platform.outputs.training_pipeline_name)
    listed = client.list_pipeline_execution_steps(PipelineExecutionArn=started["PipelineExecutionArn"])
    assert listed["PipelineExecutionSteps"] == []  # moto stores it; nothing ran it
    unknown = started["PipelineExecutionArn"].rsplit("/", 1)[0] + "/nosuchexecution"
    with pytest.raises(ClientError, match="ResourceNotFound") as raised:
        client.list_pipeline_execution_steps(PipelineExecutionArn=unknown)
    assert raised.value.response["Error"]["Code"] == "ResourceNotFound"
    with pytest.raises(ClientError, match="MaxResults must be between 1 and 100"):
        client.list_pipeline_execution_steps(PipelineExecutionArn=started["PipelineExecutionArn"], MaxResults=101)


def test_the_quality_bar_is_a_parameter_of_the_execution(platform: Platform) -> None:
    spec = definition(f"pipe_bar_{secrets.token_hex(3)}")
    frame = feature_frame(1200)
    publish_dataset(platform, spec, frame)
    execution = train_dataset(platform, spec, hyperparameters=FAST, cutoff=end_time(frame), min_skill=0.99).execution
    assert (execution.status, execution.steps[-1].name) == ("Failed", "QualityBarNotMet")
    assert execution.failure_reason.endswith("is below MinQualitySkill 0.99")
    assert platform.services.model_registry.versions(spec.name) == []


def test_a_failing_training_job_fails_the_execution_at_train_and_registers_nothing(platform: Platform) -> None:
    spec = definition(f"pipe_fail_{secrets.token_hex(3)}")
    # only the newest rows (the holdout Prepare checks) hold both classes: the train channel holds one, which the
    # training job refuses
    frame = feature_frame(300).sort_values("event_time").reset_index(drop=True)
    frame["is_fraud"] = [i % 2 if i >= 270 else 0 for i in range(len(frame))]
    publish_dataset(platform, spec, frame)
    execution = train_dataset(platform, spec, cutoff=end_time(frame)).execution

    assert (execution.status, [s.name for s in execution.steps]) == ("Failed", ["Prepare", "Train"])
    train = execution.steps[-1]
    assert "channel 'train' holds 1 class(es) (0) of label 'is_fraud'" in train.failure_reason
    assert execution.failure_reason == f"step 'Train' failed: {train.failure_reason}"
    record = describe_job(platform, train.metadata["TrainingJob"]["Arn"].rsplit("/", 1)[1])
    assert (record.status, record.model_artifact) == ("Failed", "")
    tags = clients_of(platform).client("sagemaker").list_tags(ResourceArn=record.job_arn)["Tags"]
    tags_by_key = {t["Key"]: t["Value"] for t in tags}
    assert tags_by_key[STATUS_TAG] == "Failed"
    # tag values allow a restricted character set: quotes and parentheses become spaces
    assert tags_by_key[REASON_TAG].startswith("channel  train  holds 1 class es   0  of label  is_fraud")
    assert platform.services.model_registry.versions(spec.name) == []


def test_a_failing_processing_step_names_its_reason_and_stops_the_execution(platform: Platform) -> None:
    spec = definition(f"pipe_prep_{secrets.token_hex(3)}")
    publish_dataset(platform, spec, feature_frame(200))
    execution = train_dataset(platform, spec, version=7).execution  # the table has version 0 only
    assert (execution.status, [s.name for s in execution.steps]) == ("Failed", ["Prepare"])
    assert execution.steps[0].failure_reason.startswith("prepare failed: cannot read feature table")
    assert execution.steps[0].failure_reason.endswith("(exit status 1)")


def test_parameters_are_checked_against_the_deployed_definition_before_anything_runs(platform: Platform) -> None:
    with pytest.raises(PipelineParameterError, match="Nope are not declared by the pipeline"):
        platform.services.training.start(platform.outputs.training_pipeline_name, {"Nope": "1"})


def test_the_dataset_parameters_point_the_pipeline_at_the_dataset(platform: Platform) -> None:
    from mlops.datasets import find_definition
    from pipelines.training.workflow import pipeline_parameters

    spec = find_definition("diabetes", platform.settings.datasets_dir)
    outputs = platform.outputs
    parameters = pipeline_parameters(
        platform, spec, version=3, triggered_by="drift alarm", hyperparameters={"seed": "7"}
    )
    assert parameters["FeatureTableUri"] == f"s3://{outputs.features_bucket}/tables/diabetes/"
    assert parameters["DatasetDefinitionUri"] == f"s3://{outputs.artifacts_bucket}/datasets/diabetes/"
    assert (parameters["DatasetVersion"], parameters["TriggeredBy"], parameters["Seed"]) == ("3", "drift alarm", "7")
    assert parameters["ModelTask"] == "regression"
    assert parameters["Label"] == spec.label.column
    assert parameters["Features"] == ",".join(spec.feature_names)
    deployed = clients_of(platform).client("sagemaker").describe_pipeline(PipelineName=outputs.training_pipeline_name)
    declared = {p["Name"] for p in json.loads(deployed["PipelineDefinition"])["Parameters"]}
    assert set(parameters) <= declared
    # the stack deployed the shipped datasets' definitions where the parameter points
    keys = platform.services.object_store.list_keys(outputs.artifacts_bucket, "datasets/diabetes/")
    assert keys == ["datasets/diabetes/diabetes.yaml"]
