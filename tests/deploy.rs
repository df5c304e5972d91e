//! The deployment files in `deploy/` agree with the code: the IAM policy allows exactly
//! the SageMaker operations the adapter calls and the stages the table can push, the
//! EventBridge rule matches the event the mock emits for a `Development / Complete`
//! push and not others, and the Kubernetes and ECS settings load as a valid config.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use govsync::config::{Config, SecretSource, StateConfig};
use govsync::domain::{Lifecycle, PackageArn};
use govsync::mapping::MappingTable;
use govsync::mock::Admin;
use govsync::mock::sagemaker::MockSageMaker;
use govsync::sagemaker::OPERATIONS;
use govsync::sagemaker::Registry;
use serde_json::{Value, json};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn read_json(path: &str) -> Value {
    let text = std::fs::read_to_string(repo(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A string or a list of strings, as IAM writes `Action`.
fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|s| s.as_str().map(String::from))
            .collect(),
        _ => vec![],
    }
}

#[tokio::test]
async fn operations_is_what_the_adapter_calls() {
    let sm = MockSageMaker::new(Default::default()).expect("mock");
    let handle = sm.spawn_on_loopback().await.expect("serve");
    sm.call(
        "CreateModelPackageGroup",
        json!({ "ModelPackageGroupName": "g" }),
    )
    .expect("group");
    let arn = sm
        .call(
            "CreateModelPackage",
            json!({ "ModelPackageGroupName": "g" }),
        )
        .expect("package")["ModelPackageArn"]
        .as_str()
        .expect("arn")
        .to_string();
    let arn = PackageArn::parse(&arn).expect("arn");
    let registry = support::remote::registry(&sm, &handle.url(), 1);
    // Every method of the trait, once.
    registry
        .list_packages(&support::remote::scope(&[]))
        .await
        .expect("list");
    registry
        .list_changed(&support::remote::scope(&[]), std::time::UNIX_EPOCH)
        .await
        .expect("changes");
    registry.describe_package(&arn).await.expect("describe");
    let lifecycle = Lifecycle::new("Development", "Complete");
    let _ = registry.set_lifecycle(&arn, &lifecycle, "test", None).await;
    let called: BTreeSet<String> = sm.counters().snapshot().into_keys().collect();
    let declared: BTreeSet<String> = OPERATIONS.iter().map(|s| s.to_string()).collect();
    assert_eq!(called, declared);
}

#[test]
fn the_iam_policy_allows_exactly_the_operations_and_the_pushable_stages() {
    let policy = read_json("deploy/iam/govsync-policy.json");
    check_sagemaker_policy(&policy);
    check_queue_statement(&policy);
    check_publish_statement(&policy);
}

/// The EventBridge actions a policy allows are exactly the publisher's calls
/// (`PUBLISH_OPERATIONS`, which tests/events_out.rs checks against the calls
/// counted), on one bus (never `*`).
fn check_publish_statement(policy: &Value) {
    let statements = policy["Statement"].as_array().expect("statements");
    let publish: Vec<&Value> = statements
        .iter()
        .filter(|s| {
            strings(&s["Action"])
                .iter()
                .any(|a| a.starts_with("events:"))
        })
        .collect();
    assert_eq!(publish.len(), 1, "one statement for the bus");
    let actions: BTreeSet<String> = strings(&publish[0]["Action"]).into_iter().collect();
    let expected: BTreeSet<String> = govsync::events::publish::PUBLISH_OPERATIONS
        .iter()
        .map(|op| format!("events:{op}"))
        .collect();
    assert_eq!(actions, expected, "exactly the publisher's calls");
    let resources = strings(&publish[0]["Resource"]);
    assert_eq!(resources.len(), 1, "{resources:?}");
    assert!(
        resources[0].starts_with("arn:aws:events:")
            && resources[0].contains(":event-bus/")
            && !resources[0].contains('*'),
        "the bus alone: {resources:?}"
    );
}

/// The SQS actions a policy allows are exactly those of the calls the consumer makes
/// (`QUEUE_OPERATIONS`, which tests/events.rs checks against the calls counted),
/// in one statement, on one queue (never `*`), and nothing else of SQS or others.
fn check_queue_statement(policy: &Value) {
    let statements = policy["Statement"].as_array().expect("statements");
    let queue: Vec<&Value> = statements
        .iter()
        .filter(|s| strings(&s["Action"]).iter().any(|a| a.starts_with("sqs:")))
        .collect();
    assert_eq!(queue.len(), 1, "one statement for the event queue");
    let actions: BTreeSet<String> = strings(&queue[0]["Action"]).into_iter().collect();
    let expected: BTreeSet<String> = govsync::events::QUEUE_OPERATIONS
        .iter()
        .map(|op| govsync::events::iam_action(op))
        .collect();
    assert_eq!(actions, expected, "exactly the consumer's calls");
    let resources = strings(&queue[0]["Resource"]);
    assert_eq!(resources.len(), 1, "{resources:?}");
    assert!(
        resources[0].starts_with("arn:aws:sqs:") && !resources[0].contains('*'),
        "the event queue alone: {resources:?}"
    );
    for s in statements {
        for action in strings(&s["Action"]) {
            assert!(
                ["sagemaker:", "sqs:", "sts:", "events:"]
                    .iter()
                    .any(|p| action.starts_with(p)),
                "{action} is not a call govsync makes"
            );
        }
    }
}

#[test]
fn the_approvals_policy_also_bounds_the_approval_statuses_the_documented_table_sets() {
    let policy = read_json("deploy/iam/govsync-policy-approvals.json");
    check_sagemaker_policy(&policy);
    check_queue_statement(&policy);
    check_publish_statement(&policy);
    let update = policy["Statement"]
        .as_array()
        .expect("statements")
        .iter()
        .find(|s| s["Action"] == "sagemaker:UpdateModelPackage")
        .expect("update statement");
    let approvals: BTreeSet<String> =
        strings(&update["Condition"]["StringEqualsIfExists"]["sagemaker:ModelApprovalStatus"])
            .into_iter()
            .collect();
    // The two lines docs/governance.md suggests: Approved for Deployment → Approved,
    // Rejected → Rejected.
    assert_eq!(
        approvals,
        BTreeSet::from(["Approved".to_string(), "Rejected".to_string()])
    );
    let docs = std::fs::read_to_string(repo("docs/governance.md")).expect("docs");
    assert!(docs.contains("approval_status = \"Approved\""));
    assert!(docs.contains("approval_status = \"Rejected\""));
}

#[test]
fn the_spoke_role_is_trusted_by_the_hub_alone_and_allows_what_the_adapter_calls() {
    let template = read_json("deploy/iam/spoke-role.template.json");
    let role = &template["Resources"]["SpokeRole"]["Properties"];
    let trust = role["AssumeRolePolicyDocument"]["Statement"]
        .as_array()
        .expect("trust statements");
    assert_eq!(trust.len(), 1);
    assert_eq!(trust[0]["Principal"]["AWS"]["Ref"], "HubRoleArn");
    assert_eq!(trust[0]["Action"], "sts:AssumeRole");
    assert_eq!(
        trust[0]["Condition"]["Fn::If"][1]["StringEquals"]["sts:ExternalId"]["Ref"], "ExternalId",
        "an external ID, when given, is required"
    );
    let policies = role["Policies"].as_array().expect("policies");
    assert_eq!(policies.len(), 1);
    check_sagemaker_policy(&policies[0]["PolicyDocument"]);
    // The queue is the hub's: a spoke's role never reads it.
    assert!(!policies[0]["PolicyDocument"].to_string().contains("sqs:"));
}

#[test]
fn the_hub_policy_only_assumes_named_roles_reads_the_event_queue_and_publishes() {
    let policy = read_json("deploy/iam/hub-policy.json");
    check_queue_statement(&policy);
    check_publish_statement(&policy);
    let statements = policy["Statement"].as_array().expect("statements");
    for statement in statements {
        assert_eq!(statement["Effect"], "Allow");
        if strings(&statement["Action"])
            .iter()
            .any(|a| a.starts_with("sqs:") || a.starts_with("events:"))
        {
            continue;
        }
        assert_eq!(strings(&statement["Action"]), ["sts:AssumeRole"]);
        for resource in strings(&statement["Resource"]) {
            assert!(
                resource.starts_with("arn:aws:iam::") && resource.contains(":role/"),
                "{resource} is not a role ARN"
            );
        }
    }
}

/// The hub template's rule takes both SageMaker detail types to the queue, the queue
/// policy lets only that rule send, the queues are encrypted, failing messages go to
/// a dead-letter queue; the spoke template forwards the same pattern to the hub.
#[test]
fn the_event_templates_route_sagemakers_events_to_the_queue_and_nothing_else() {
    let hub = read_json("deploy/eventbridge/events-hub.template.json");
    let r = &hub["Resources"];
    let pattern = &r["SageMakerEventsRule"]["Properties"]["EventPattern"];
    assert_eq!(strings(&pattern["source"]), [govsync::event::SOURCE]);
    assert_eq!(
        strings(&pattern["detail-type"]),
        [govsync::event::PACKAGE_CHANGE, govsync::event::CARD_CHANGE]
    );
    let target = &r["SageMakerEventsRule"]["Properties"]["Targets"][0];
    assert_eq!(target["Arn"]["Fn::GetAtt"][0], "EventQueue");
    let send = &r["EventQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"][0];
    assert_eq!(send["Principal"]["Service"], "events.amazonaws.com");
    assert_eq!(send["Action"], "sqs:SendMessage");
    assert_eq!(
        send["Condition"]["ArnEquals"]["aws:SourceArn"]["Fn::GetAtt"][0],
        "SageMakerEventsRule"
    );
    for queue in ["EventQueue", "DeadLetterQueue"] {
        let p = &r[queue]["Properties"];
        assert!(
            p["SqsManagedSseEnabled"]["Fn::If"][2] == true
                && p["KmsMasterKeyId"]["Fn::If"][1]["Ref"] == "KmsKeyArn",
            "{queue}: SSE-SQS by default, the KMS key when given"
        );
    }
    let redrive = &r["EventQueue"]["Properties"]["RedrivePolicy"];
    assert_eq!(
        redrive["deadLetterTargetArn"]["Fn::GetAtt"][0],
        "DeadLetterQueue"
    );
    // The documented events match the rule (the consumer's own test shapes).
    let documented = json!({
        "source": "aws.sagemaker",
        "detail-type": "SageMaker Model Package State Change",
        "detail": {},
    });
    assert!(matches(pattern, &documented));
    assert!(!matches(
        pattern,
        &json!({"source": "aws.sagemaker", "detail-type": "AWS API Call via CloudTrail", "detail": {}})
    ));

    let spoke = read_json("deploy/eventbridge/events-spoke.template.json");
    let forward = &spoke["Resources"]["ForwardSageMakerEvents"]["Properties"];
    assert_eq!(
        &forward["EventPattern"], pattern,
        "the spokes forward what the hub's rule takes"
    );
    assert!(
        forward["Targets"][0]["Arn"]["Fn::Sub"][0]
            .as_str()
            .is_some_and(|a| a.ends_with("${HubAccountId}:event-bus/default")),
        "the spokes forward to the hub's default bus"
    );
}

/// The shipped rule on govsync's own events matches the event of a decommission
/// as govsync makes it, and not that of another action.
#[test]
fn the_decommission_rule_matches_govsyncs_decommission_event_only() {
    let template = read_json("deploy/eventbridge/development-complete.template.json");
    let rule = &template["Resources"]["GovernanceDecommissionedRule"]["Properties"];
    assert_eq!(rule["EventBusName"]["Ref"], "GovsyncBus");
    let pattern = &rule["EventPattern"];
    let event = |action: &str| {
        let entry = govsync::store::JournalEntry {
            at: "2026-12-06T10:00:00Z".into(),
            model_id: "42".into(),
            model_name: "churn".into(),
            package_arn: "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/3".into(),
            action: action.into(),
            from: Some("Deployed | Deployment/Complete".into()),
            to: Some("Decommissioned".into()),
            reason: "the package was deleted".into(),
            outcome: "applied".into(),
            error: None,
            cycle: Some("c".into()),
        };
        json!({
            "source": govsync::outbox::SOURCE,
            "detail-type": govsync::outbox::DETAIL_TYPE,
            "detail": govsync::outbox::status_change(7, &entry),
        })
    };
    assert!(matches(pattern, &event("decommission")));
    assert!(!matches(pattern, &event("pull")));
    // The input the pipeline gets names fields the event has.
    let paths = &rule["Targets"][0]["InputTransformer"]["InputPathsMap"];
    let decommission = event("decommission");
    for path in ["arn", "model", "sequence"] {
        let at = paths[path].as_str().expect("path").trim_start_matches("$.");
        let mut v = &decommission;
        for part in at.split('.') {
            v = &v[part];
        }
        assert!(!v.is_null(), "{at} is not in govsync's event");
    }
}

/// A SageMaker policy allows exactly the adapter's operations, and updates only to
/// the stages the built-in table pushes, on model packages.
fn check_sagemaker_policy(policy: &Value) {
    let statements = policy["Statement"].as_array().expect("statements");
    let allowed: BTreeSet<String> = statements
        .iter()
        .filter(|s| s["Effect"] == "Allow")
        .flat_map(|s| strings(&s["Action"]))
        .filter(|a| a.starts_with("sagemaker:"))
        .collect();
    let expected: BTreeSet<String> = OPERATIONS
        .iter()
        .map(|op| format!("sagemaker:{op}"))
        .collect();
    assert_eq!(
        allowed, expected,
        "the policy must name every SageMaker action govsync calls and no other"
    );
    assert!(
        statements
            .iter()
            .all(|s| s["NotAction"].is_null() && s["Effect"] == "Allow"),
        "no NotAction or Deny tricks"
    );

    // UpdateModelPackage may set only the stages the built-in table can push.
    let update = statements
        .iter()
        .find(|s| strings(&s["Action"]).contains(&"sagemaker:UpdateModelPackage".to_string()))
        .expect("the update statement");
    let stages: BTreeSet<String> =
        strings(&update["Condition"]["StringEquals"]["sagemaker:ModelLifeCycle:stage"])
            .into_iter()
            .collect();
    let pushable: BTreeSet<String> = MappingTable::built_in()
        .rows()
        .iter()
        .filter(|r| r.direction.allows_push())
        .map(|r| r.lifecycle.stage.clone())
        .collect();
    assert_eq!(stages, pushable);
    assert_ne!(
        update["Resource"], "*",
        "updates are scoped to model packages"
    );
}

// ---- EventBridge --------------------------------------------------------------------

/// EventBridge's matching for the pattern forms the template uses: an object matches
/// field by field, a list of values matches when the event's value equals one of them
/// (or, for `{"prefix": …}`, starts with it).
fn matches(pattern: &Value, event: &Value) -> bool {
    match pattern {
        Value::Object(fields) => fields
            .iter()
            .all(|(k, p)| event.get(k).is_some_and(|v| matches(p, v))),
        Value::Array(accepted) => accepted.iter().any(|a| match (a, event) {
            (Value::Object(o), Value::String(s)) => o
                .get("prefix")
                .and_then(Value::as_str)
                .is_some_and(|p| s.starts_with(p)),
            _ => a == event,
        }),
        _ => false,
    }
}

/// The dotted paths of every leaf a pattern names.
fn leaves(pattern: &Value, prefix: &str, out: &mut Vec<String>) {
    if let Value::Object(fields) = pattern {
        for (k, v) in fields {
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                Value::Object(_) => leaves(v, &path, out),
                _ => out.push(path),
            }
        }
    }
}

fn at<'a>(event: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(event, |v, k| v.get(k))
}

#[test]
fn the_eventbridge_rule_matches_the_mocks_development_complete_event_only() {
    let template = read_json("deploy/eventbridge/development-complete.template.json");
    let rule = &template["Resources"]["DevelopmentCompleteRule"];
    assert_eq!(rule["Type"], "AWS::Events::Rule");
    let pattern = &rule["Properties"]["EventPattern"];

    let sm = MockSageMaker::new(Default::default()).expect("mock");
    sm.call(
        "CreateModelPackageGroup",
        json!({ "ModelPackageGroupName": "churn" }),
    )
    .expect("group");
    let arn = sm
        .call(
            "CreateModelPackage",
            json!({ "ModelPackageGroupName": "churn" }),
        )
        .expect("package")["ModelPackageArn"]
        .clone();
    let push = |stage: &str, status: &str| {
        sm.call(
            "UpdateModelPackage",
            json!({ "ModelPackageArn": arn, "ModelLifeCycle": { "Stage": stage, "StageStatus": status } }),
        )
        .expect("update");
        sm.events().last().cloned().expect("an event")
    };
    let complete = push("Development", "Complete");
    let in_progress = push("Development", "InProgress");
    let testing = push("Testing", "Complete");

    let mut paths = Vec::new();
    leaves(pattern, "", &mut paths);
    assert!(
        paths.contains(&"detail.ModelLifeCycle.Stage".to_string()),
        "{paths:?}"
    );
    for path in &paths {
        let value =
            at(&complete, path).unwrap_or_else(|| panic!("the event has no {path}: {complete}"));
        let accepted = at(pattern, path).expect("pattern leaf");
        assert!(
            matches(accepted, value),
            "{path}: {value} is not accepted by {accepted}"
        );
    }
    assert!(matches(pattern, &complete), "{complete}");
    assert!(!matches(pattern, &in_progress), "{in_progress}");
    assert!(!matches(pattern, &testing), "{testing}");

    // The approval-based rule: a push that also set ModelApprovalStatus Approved.
    let approved_rule = &template["Resources"]["ApprovedForDeploymentRule"]["Properties"];
    let approved_pattern = &approved_rule["EventPattern"];
    let update = |body: Value| {
        let mut body = body;
        body["ModelPackageArn"] = arn.clone();
        sm.call("UpdateModelPackage", body).expect("update");
        sm.events().last().cloned().expect("an event")
    };
    let approved = update(json!({ "ModelApprovalStatus": "Approved",
        "ModelLifeCycle": { "Stage": "Deployment", "StageStatus": "Approved" } }));
    let pending = update(json!({ "ModelApprovalStatus": "PendingManualApproval",
        "ModelLifeCycle": { "Stage": "Deployment", "StageStatus": "PendingApproval" } }));
    assert!(matches(approved_pattern, &approved), "{approved}");
    assert!(!matches(approved_pattern, &pending), "{pending}");
    assert!(!matches(approved_pattern, &complete), "{complete}");

    // The target reads the ARN from the same event.
    let paths = &rule["Properties"]["Targets"][0]["InputTransformer"]["InputPathsMap"];
    for (name, path) in paths.as_object().expect("paths") {
        let path = path.as_str().expect("path").trim_start_matches("$.");
        assert!(
            at(&complete, path).is_some(),
            "input path {name} = {path} is not in {complete}"
        );
    }
}

// ---- the Kubernetes ConfigMap and the ECS task definition ---------------------------

/// The text of a block scalar `key: |` at two spaces' indent in a manifest.
fn block_scalar(manifest: &str, key: &str) -> String {
    let header = format!("  {key}: |");
    let mut lines = manifest.lines().skip_while(|l| *l != header);
    assert!(lines.next().is_some(), "no {header} in the manifest");
    let mut text = String::new();
    for line in lines {
        if line.is_empty() {
            text.push('\n');
        } else if let Some(rest) = line.strip_prefix("    ") {
            text.push_str(rest);
            text.push('\n');
        } else {
            break;
        }
    }
    text.trim_end_matches('\n').to_string() + "\n"
}

#[test]
fn the_kubernetes_configmap_holds_the_shipped_table_and_a_valid_config() {
    let manifest =
        std::fs::read_to_string(repo("deploy/kubernetes/base/configmap.yaml")).expect("configmap");
    let mapping = block_scalar(&manifest, "mapping.toml");
    assert_eq!(
        mapping,
        std::fs::read_to_string(repo("config/mapping.toml")).expect("mapping"),
        "the ConfigMap's mapping.toml is config/mapping.toml"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("mapping.toml"), mapping).expect("write");
    let file = dir.path().join("govsync.toml");
    std::fs::write(&file, block_scalar(&manifest, "govsync.toml")).expect("write");
    let config = Config::load(&file, &[]).expect("the ConfigMap's govsync.toml is valid");
    assert_eq!(
        config.state.sqlite_path(),
        Some("/var/lib/govsync/state.db")
    );
    assert_eq!(config.listen.to_string(), "0.0.0.0:9464");
    assert_eq!(config.mapping.rows().len(), 19);

    // The Deployment mounts the Secret where the config looks for it.
    let deployment = std::fs::read_to_string(repo("deploy/kubernetes/daemon/deployment.yaml"))
        .expect("deployment");
    assert!(deployment.contains("mountPath: /run/secrets/govsync"));
    assert!(
        block_scalar(&manifest, "govsync.toml")
            .contains("password_file = \"/run/secrets/govsync/password\"")
    );
    let secret =
        std::fs::read_to_string(repo("deploy/kubernetes/secret.example.yaml")).expect("secret");
    assert!(
        secret.contains("\n  password: "),
        "the Secret's key is the file name the config reads"
    );
}

#[test]
fn the_ecs_task_settings_load_over_the_image_config() {
    let task = read_json("deploy/ecs/task-definition.json");
    let container = &task["containerDefinitions"][0];
    let mut env: Vec<(String, String)> = container["environment"]
        .as_array()
        .expect("environment")
        .iter()
        .map(|e| {
            (
                e["name"].as_str().expect("name").to_string(),
                e["value"].as_str().expect("value").to_string(),
            )
        })
        .collect();
    for secret in container["secrets"].as_array().expect("secrets") {
        env.push((
            secret["name"].as_str().expect("name").to_string(),
            "from-secrets-manager".into(),
        ));
    }
    // The image carries config/ at /etc/govsync; the task sets the rest by environment.
    let file = repo("config/govsync.toml");
    let config = Config::load(&file, &env).expect("the task's overrides are valid");
    config
        .governance_secret(&|name: &str| {
            env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
        .expect("the secret the config names is one the task injects");
    // The state is in RDS PostgreSQL (the image's GOVSYNC_STATE_URL, a SQLite file,
    // is replaced by the task's), its password injected from Secrets Manager.
    let StateConfig::Postgres(pg) = &config.state else {
        panic!("the task's state store is PostgreSQL: {:?}", config.state)
    };
    assert!(pg.url.contains("sslmode=verify-full"), "{}", pg.url);
    let Some(SecretSource::Env(var)) = &pg.password else {
        panic!("the database password comes from the environment")
    };
    assert!(env.iter().any(|(k, _)| k == var), "the task injects {var}");
    assert_eq!(task["volumes"], json!([{ "name": "tmp" }]), "no EFS volume");
    let service = read_json("deploy/ecs/service.json");
    assert_eq!(
        service["desiredCount"], 2,
        "two tasks: one leads, one stands by"
    );
    assert_eq!(
        container["healthCheck"]["command"],
        json!(["CMD", "govsync", "healthcheck"])
    );
    assert_eq!(container["readonlyRootFilesystem"], true);
    let mounted: Vec<&str> = container["mountPoints"]
        .as_array()
        .expect("mounts")
        .iter()
        .filter_map(|m| m["containerPath"].as_str())
        .collect();
    assert_eq!(mounted, vec!["/tmp"]);
}

#[test]
fn the_kubernetes_ha_overlay_runs_two_replicas_on_postgres_over_the_base_config() {
    let overlay =
        std::fs::read_to_string(repo("deploy/kubernetes/ha/kustomization.yaml")).expect("ha");
    // The variables the overlay sets on the container, as `name`/`value` pairs.
    let lines: Vec<&str> = overlay.lines().map(str::trim).collect();
    let mut env = vec![(
        "GOVSYNC_STATE_INSTANCE".to_string(),
        "govsync-abc12".to_string(),
    )];
    for pair in lines.windows(2) {
        if let (Some(name), Some(value)) = (
            pair[0].strip_prefix("- name: GOVSYNC_"),
            pair[1].strip_prefix("value: "),
        ) {
            env.push((format!("GOVSYNC_{name}"), value.to_string()));
        }
    }
    // The image's own variable, which the container's replaces.
    assert!(env.iter().any(|(k, _)| k == "GOVSYNC_STATE_URL"));
    let manifest =
        std::fs::read_to_string(repo("deploy/kubernetes/base/configmap.yaml")).expect("configmap");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("mapping.toml"),
        block_scalar(&manifest, "mapping.toml"),
    )
    .expect("write");
    let file = dir.path().join("govsync.toml");
    std::fs::write(&file, block_scalar(&manifest, "govsync.toml")).expect("write");
    let config = Config::load(&file, &env).expect("the overlay's settings are valid");
    let StateConfig::Postgres(pg) = &config.state else {
        panic!(
            "the overlay's state store is PostgreSQL: {:?}",
            config.state
        )
    };
    assert_eq!(pg.instance, "govsync-abc12");
    assert_eq!(
        pg.password,
        Some(SecretSource::File(
            "/run/secrets/govsync-db/password".into()
        ))
    );
    assert!(overlay.contains("mountPath: /run/secrets/govsync-db"));
    assert!(overlay.contains("replicas: 2") && overlay.contains("type: RollingUpdate"));
    let pdb = std::fs::read_to_string(repo("deploy/kubernetes/ha/pdb.yaml")).expect("pdb");
    assert!(pdb.contains("kind: PodDisruptionBudget") && pdb.contains("minAvailable: 1"));
    let secret =
        std::fs::read_to_string(repo("deploy/kubernetes/ha/secret.example.yaml")).expect("secret");
    assert!(secret.contains("name: govsync-database") && secret.contains("\n  password: "));
}

#[test]
fn the_prometheus_operator_rule_holds_the_same_rules_as_the_plain_file() {
    let read = |path: &str| std::fs::read_to_string(repo(path)).expect(path);
    let plain = read("deploy/monitoring/prometheus-rules.yaml");
    let operator = read("deploy/monitoring/prometheusrule.yaml");
    let groups = |text: &str, indent: &str| -> Vec<String> {
        let start = text
            .lines()
            .position(|l| l.trim_start() == "groups:")
            .expect("a groups: key");
        text.lines()
            .skip(start)
            .map(|l| l.strip_prefix(indent).unwrap_or(l).to_string())
            .collect()
    };
    assert_eq!(groups(&plain, ""), groups(&operator, "  "));
    assert!(operator.contains("kind: PrometheusRule"));
    assert!(operator.contains("apiVersion: monitoring.coreos.com/v1"));
}

#[test]
fn the_network_policy_admits_the_metrics_port_and_lets_out_only_dns_and_https() {
    let policy = std::fs::read_to_string(repo("deploy/kubernetes/base/networkpolicy.yaml"))
        .expect("network policy");
    let deployment = std::fs::read_to_string(repo("deploy/kubernetes/daemon/deployment.yaml"))
        .expect("deployment");
    assert!(deployment.contains("containerPort: 9464"));
    let ports: Vec<&str> = policy
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- port: "))
        .collect();
    assert_eq!(ports, ["9464", "53", "53", "443"], "{policy}");
    let kustomization =
        std::fs::read_to_string(repo("deploy/kubernetes/base/kustomization.yaml")).expect("base");
    assert!(kustomization.contains("- networkpolicy.yaml"));
}
