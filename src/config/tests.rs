//! The configuration's tests: one or more per setting and per refusal, against the
//! shipped example too. Over 500 lines because the settings are many; each test is
//! short and stands alone.

use std::path::Path;
use std::time::Duration;

use super::*;
use crate::plan::Policy;

const MINIMAL: &str = r#"
[governance]
base_url = "https://op.example.com/opgrc/api/v2/"
[governance.auth]
kind = "basic"
username = "u"
password_env = "PW"
"#;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn load(text: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::from_toml(text, Path::new("g.toml"), &env(vars))
}

fn refused(text: &str, vars: &[(&str, &str)]) -> String {
    load(text, vars).expect_err("must be refused").to_string()
}

/// MINIMAL with one more section body appended.
fn with(extra: &str) -> String {
    format!("{MINIMAL}{extra}\n")
}

#[test]
fn the_shipped_example_is_valid_and_loads_its_mapping() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/govsync.toml");
    let config = Config::load(&file, &[]).expect("the example is valid");
    assert_eq!(config.mapping.rows().len(), 19);
    assert_eq!(
        config.sync.mapping_file.as_deref(),
        Some(file.parent().expect("dir").join("mapping.toml").as_path())
    );
    assert_eq!(config.governance.auth.kind(), "basic");
}

#[test]
fn the_shipped_example_mentions_every_setting() {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/govsync.toml"))
            .expect("example");
    // Every `key =` line (commented out or not) by its whole dotted name: the
    // section it sits in, then the key (`state.password_env` is not shown by
    // `governance.auth.password_env`).
    let mut section = String::new();
    let mut shown: Vec<String> = Vec::new();
    for line in text.lines() {
        let line = line.trim_start_matches(['#', ' ']);
        if let Some(header) = line.strip_prefix('[') {
            section = header.trim_matches(['[', ']']).to_string();
        } else if let Some((key, _)) = line.split_once(" =")
            && !key.is_empty()
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            shown.push(format!("{section}.{key}"));
        }
    }
    for key in schema().keys() {
        assert!(
            shown.contains(&key),
            "config/govsync.toml does not show `{key}` (shown: {shown:?})"
        );
    }
}

#[test]
fn minimal_config_takes_the_defaults() {
    let config = load(MINIMAL, &[]).expect("valid");
    assert_eq!(
        config.governance.base_url,
        "https://op.example.com/opgrc/api/v2"
    );
    assert_eq!(config.governance.status_field, "MRG-Model:Status");
    assert_eq!(config.governance.link_field, "Integration:External ID");
    assert_eq!(config.governance.page_size, 500);
    assert_eq!(config.sync.interval, Duration::from_secs(10));
    assert_eq!(config.sync.full_interval, Duration::from_secs(600));
    assert_eq!(config.sync.overlap, Duration::from_secs(60));
    assert_eq!(config.sync.policy, Policy::default());
    assert_eq!(config.sync.concurrency, 4);
    assert_eq!(config.sagemaker.max_attempts, 3);
    assert_eq!(config.sagemaker.retry_mode, RetryMode::Standard);
    assert!(config.sagemaker.model_package_groups.is_empty());
    assert_eq!(config.listen.to_string(), "127.0.0.1:9464");
    assert_eq!(config.mapping.rows().len(), 19, "built-in table");
    assert_eq!(config.mapping_source(), crate::mapping::BUILT_IN_NAME);
    assert_eq!(
        config.governance.auth,
        AuthConfig::Basic {
            username: "u".into(),
            password: SecretSource::Env("PW".into())
        }
    );
}

#[test]
fn a_full_interval_shorter_than_the_interval_is_refused() {
    let message = refused(
        &with("[sync]\ninterval = \"1m\"\nfull_interval = \"30s\""),
        &[],
    );
    assert!(
        message.starts_with("g.toml: `sync.full_interval`: 30s is shorter than sync.interval (1m)"),
        "{message}"
    );
    let every_cycle_full = load(
        &with("[sync]\ninterval = \"1m\"\nfull_interval = \"1m\""),
        &[],
    )
    .expect("equal is allowed");
    assert_eq!(every_cycle_full.sync.full_interval, Duration::from_secs(60));
    // Left out, it is 10 minutes, or the interval if that is longer.
    let hourly = load(&with("[sync]\ninterval = \"1h\""), &[]).expect("valid");
    assert_eq!(hourly.sync.full_interval, Duration::from_secs(3600));
}

#[test]
fn unknown_keys_are_named() {
    let message = refused(&with("[sync]\nintervl = \"5s\""), &[]);
    assert!(
        message.starts_with("g.toml: `sync.intervl`: unknown field `intervl`"),
        "{message}"
    );
    let message = refused(&with("[metrics]\nport = 1"), &[]);
    assert!(
        message.contains("`metrics`: unknown field `metrics`"),
        "{message}"
    );
}

#[test]
fn missing_required_keys_are_named() {
    let message = refused(
        "[governance.auth]\nkind = \"iam\"\napi_key_env = \"K\"\n",
        &[],
    );
    assert!(
        message.contains("`governance`: missing field `base_url`"),
        "{message}"
    );
    let message = refused("[sync]\ninterval = \"5s\"\n", &[]);
    assert!(message.contains("missing field `governance`"), "{message}");
}

#[test]
fn bad_values_are_named_with_their_key() {
    for (extra, key, why) in [
        (
            "[sync]\ninterval = \"soon\"",
            "sync.interval",
            "is not a duration",
        ),
        (
            "[sync]\ninterval = \"0s\"",
            "sync.interval",
            "longer than zero",
        ),
        (
            "[sync]\nconflict_policy = \"newest-wins\"",
            "sync.conflict_policy",
            "unknown variant `newest-wins`",
        ),
        (
            "[sync]\nconcurrency = 0",
            "sync.concurrency",
            "out of range",
        ),
        (
            "[sync]\nmax_decommissions_per_cycle = -1",
            "sync.max_decommissions_per_cycle",
            "out of range",
        ),
        (
            "[sync]\narchive_stage = \"Old Stuff\"",
            "sync.archive_stage",
            "not a valid SageMaker lifecycle name",
        ),
        (
            "[sync]\ndecommission_status = \" \"",
            "sync.decommission_status",
            "must not be empty",
        ),
        ("[sync]\ninterval = 60", "sync.interval", "invalid type"),
        (
            "[sagemaker]\nregion = \"US East\"",
            "sagemaker.region",
            "not an AWS region",
        ),
        (
            "[sagemaker]\nmodel_package_groups = [\"ok\", \"not ok\"]",
            "sagemaker.model_package_groups[1]",
            "not a letter",
        ),
        (
            "[sagemaker]\nmax_attempts = 11",
            "sagemaker.max_attempts",
            "out of range",
        ),
        (
            "[sagemaker]\nretry_mode = \"legacy\"",
            "sagemaker.retry_mode",
            "unknown variant `legacy`",
        ),
        (
            "[sagemaker]\nendpoint_url = \"localhost:4566\"",
            "sagemaker.endpoint_url",
            "not an http://",
        ),
        (
            "[server]\nlisten = \"9464\"",
            "server.listen",
            "is not an address",
        ),
        ("[state]\npath = \"\"", "state.path", ":memory:"),
    ] {
        let message = refused(&with(extra), &[]);
        assert!(
            message.starts_with(&format!("g.toml: `{key}`: ")),
            "{extra}: {message}"
        );
        assert!(message.contains(why), "{extra}: {message}");
    }
}

#[test]
fn governance_names_that_could_break_a_query_are_refused() {
    let text = MINIMAL.replace(
        "[governance.auth]",
        "status_field = \"Status] OR [x\"\n[governance.auth]",
    );
    let message = refused(&text, &[]);
    assert!(
        message.contains("`governance.status_field`") && message.contains("']'"),
        "{message}"
    );
    let text = MINIMAL.replace("https://op.example.com/opgrc/api/v2/", "ftp://x");
    assert!(refused(&text, &[]).contains("`governance.base_url`"));
}

#[test]
fn auth_kinds_require_their_own_settings() {
    let auth = |body: &str| {
        format!("[governance]\nbase_url = \"https://x/api/v2\"\n[governance.auth]\n{body}\n")
    };
    for (body, key, why) in [
        (
            "kind = \"basic\"\npassword_env = \"P\"",
            "governance.auth.username",
            "needs a username",
        ),
        (
            "kind = \"basic\"\nusername = \"u\"",
            "governance.auth.password_env",
            "needs the password",
        ),
        (
            "kind = \"basic\"\nusername = \"u\"\npassword_env = \"P\"\npassword_file = \"f\"",
            "governance.auth.password_env",
            "not both",
        ),
        (
            "kind = \"basic\"\nusername = \"u\"\npassword_env = \"P\"\napi_key_env = \"K\"",
            "governance.auth.api_key_env",
            "not used with kind = \"basic\"",
        ),
        (
            "kind = \"iam\"\nusername = \"u\"\napi_key_env = \"K\"",
            "governance.auth.username",
            "not used with kind = \"iam\"",
        ),
        (
            "kind = \"iam\"",
            "governance.auth.api_key_env",
            "needs the api_key",
        ),
        (
            "kind = \"zen\"\napi_key_env = \"K\"",
            "governance.auth.username",
            "needs a username",
        ),
        (
            "kind = \"oauth\"",
            "governance.auth.kind",
            "expected one of: basic, iam, zen",
        ),
        (
            "kind = \"iam\"\napi_key = \"literal\"",
            "governance.auth.api_key",
            "unknown field",
        ),
    ] {
        let message = refused(&auth(body), &[]);
        assert!(message.contains(&format!("`{key}`")), "{body}: {message}");
        assert!(message.contains(why), "{body}: {message}");
    }
    let config = load(&auth("kind = \"iam\"\napi_key_file = \"secret/key\""), &[]).expect("valid");
    assert_eq!(
        config.governance.auth,
        AuthConfig::Iam {
            api_key: SecretSource::File("secret/key".into()),
            token_url: DEFAULT_IAM_TOKEN_URL.into()
        }
    );
}

#[test]
fn environment_overrides_win_and_are_named_in_errors() {
    let config = load(
        MINIMAL,
        &[
            ("GOVSYNC_SYNC_INTERVAL", "15s"),
            ("GOVSYNC_SAGEMAKER_MODEL_PACKAGE_GROUPS", "churn, fraud"),
            ("GOVSYNC_GOVERNANCE_PAGE_SIZE", "250"),
            ("GOVSYNC_SYNC_CONFLICT_POLICY", "skip"),
        ],
    )
    .expect("valid");
    assert_eq!(config.sync.interval, Duration::from_secs(15));
    assert_eq!(config.sagemaker.model_package_groups, ["churn", "fraud"]);
    assert_eq!(config.governance.page_size, 250);
    assert_eq!(config.sync.policy.conflict, ConflictPolicy::Skip);
    assert_eq!(config.overrides.len(), 4);

    let message = refused(MINIMAL, &[("GOVSYNC_SYNC_INTERVAL", "often")]);
    assert!(
        message.starts_with(
            "g.toml: `sync.interval` (set by GOVSYNC_SYNC_INTERVAL): \"often\" is not a duration"
        ),
        "{message}"
    );
    let message = refused(MINIMAL, &[("GOVSYNC_SYNC_CONCURENCY", "4")]);
    assert!(
        message.contains("GOVSYNC_SYNC_CONCURENCY does not override any setting"),
        "{message}"
    );
    let message = refused(MINIMAL, &[("GOVSYNC_GOVERNANCE_PAGE_SIZE", "lots")]);
    assert!(
        message.contains("GOVSYNC_GOVERNANCE_PAGE_SIZE (setting `governance.page_size`)"),
        "{message}"
    );
}

#[test]
fn a_required_key_can_come_from_the_environment_alone() {
    let text = MINIMAL.replace("base_url = \"https://op.example.com/opgrc/api/v2/\"", "");
    let config = load(
        &text,
        &[(
            "GOVSYNC_GOVERNANCE_BASE_URL",
            "http://127.0.0.1:8443/opgrc/api/v2",
        )],
    )
    .expect("valid");
    assert_eq!(
        config.governance.base_url,
        "http://127.0.0.1:8443/opgrc/api/v2"
    );
}

#[test]
fn a_secret_variable_with_the_prefix_is_not_an_override() {
    let text = MINIMAL.replace("\"PW\"", "\"GOVSYNC_PASSWORD\"");
    let config = load(&text, &[("GOVSYNC_PASSWORD", "hunter2")]).expect("valid");
    let secret = config
        .governance_secret(&|name| (name == "GOVSYNC_PASSWORD").then(|| "hunter2".to_string()))
        .expect("set");
    assert_eq!(secrecy::ExposeSecret::expose_secret(&secret), "hunter2");
    assert!(!format!("{config:?}").contains("hunter2"));
}

#[test]
fn syntax_errors_carry_line_and_column() {
    let message = refused(&with("[sync\ninterval = \"5s\""), &[]);
    assert!(message.starts_with("g.toml:8:6: "), "{message}");
}

#[test]
fn a_bad_mapping_file_is_refused_with_its_name() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("m.toml"),
        "[[row]]\ngovernance_status = \"A\"\n",
    )
    .expect("write");
    let text = with("[sync]\nmapping_file = \"m.toml\"");
    let message = Config::from_toml(&text, &dir.path().join("g.toml"), &[])
        .expect_err("bad mapping")
        .to_string();
    assert!(
        message.contains("m.toml: row 1 (line 1): missing field `stage`"),
        "{message}"
    );

    let message = refused(&with("[sync]\nmapping_file = \"nowhere.toml\""), &[]);
    assert!(
        message.contains("nowhere.toml: cannot read the mapping table"),
        "{message}"
    );
}

#[test]
fn conflict_policy_spelling_matches_the_config_file() {
    for policy in [
        ConflictPolicy::GovernanceWins,
        ConflictPolicy::SagemakerWins,
        ConflictPolicy::Skip,
    ] {
        let config = load(
            &with(&format!(
                "[sync]\nconflict_policy = \"{}\"",
                policy.as_str()
            )),
            &[],
        )
        .expect("valid");
        assert_eq!(config.sync.policy.conflict, policy);
    }
}

#[test]
fn a_relative_state_path_is_relative_to_the_config_file() {
    let text = with("[state]\npath = \"data/state.db\"");
    let config =
        Config::from_toml(&text, Path::new("/etc/govsync/govsync.toml"), &[]).expect("valid");
    assert_eq!(
        config.state.sqlite_path(),
        Some("/etc/govsync/data/state.db")
    );
    let memory = Config::from_toml(
        &with("[state]\npath = \":memory:\""),
        Path::new("/etc/govsync/govsync.toml"),
        &[],
    )
    .expect("valid");
    assert_eq!(memory.state.sqlite_path(), Some(":memory:"));
}

#[test]
fn a_postgres_store_takes_its_password_from_elsewhere_and_names_this_replica() {
    let config = load(
        &with(
            "[state]\nurl = \"postgres://govsync@db:5432/govsync?sslmode=verify-full\"\n\
             password_env = \"DB_PW\"\nlease = \"10s\"",
        ),
        &[("HOSTNAME", "govsync-7d9f")],
    )
    .expect("valid");
    let StateConfig::Postgres(pg) = &config.state else {
        panic!("a postgres store: {:?}", config.state)
    };
    assert_eq!(pg.password, Some(SecretSource::Env("DB_PW".into())));
    assert_eq!(pg.lease, Duration::from_secs(10));
    assert!(pg.instance.starts_with("govsync-7d9f:"), "{}", pg.instance);
    // GOVSYNC_STATE_INSTANCE names it (a pod's name); DB_PW is not an override.
    let named = load(
        &with("[state]\nurl = \"postgres://govsync@db/govsync\""),
        &[("GOVSYNC_STATE_INSTANCE", "pod-a")],
    )
    .expect("valid");
    assert!(named.state.describe().contains("instance pod-a"));
}

#[test]
fn a_password_in_the_state_url_is_refused_without_repeating_it() {
    for url in [
        "postgres://govsync:hunter2@db/govsync",
        "postgres://govsync@db/govsync?password=hunter2",
    ] {
        let message = refused(&with(&format!("[state]\nurl = \"{url}\"")), &[]);
        assert!(
            message.contains("state.url") && message.contains("password_env"),
            "{message}"
        );
        assert!(!message.contains("hunter2"), "{message}");
    }
    let message = refused(&with("[state]\nurl = \"mysql://db/x\""), &[]);
    assert!(message.contains("postgres://"), "{message}");
}

#[test]
fn the_state_store_is_named_one_way_at_each_level() {
    // Both in the file: refused.
    let both = with("[state]\npath = \"s.db\"\nurl = \"postgres://govsync@db/govsync\"");
    assert!(refused(&both, &[]).contains("not both"));
    // An environment override replaces the file's other way (an image's or a
    // deployment's GOVSYNC_STATE_URL over the file's path).
    let file_path = with("[state]\npath = \"s.db\"");
    let config = load(
        &file_path,
        &[("GOVSYNC_STATE_URL", "postgres://govsync@db/govsync")],
    )
    .expect("valid");
    assert!(matches!(config.state, StateConfig::Postgres(_)));
    let config = load(
        &file_path,
        &[("GOVSYNC_STATE_URL", "sqlite:///var/lib/g.db")],
    )
    .expect("valid");
    assert_eq!(config.state.sqlite_path(), Some("/var/lib/g.db"));
    // PostgreSQL settings without a PostgreSQL store: refused.
    let stray = refused(&with("[state]\ninstance = \"a\""), &[]);
    assert!(stray.contains("state.instance"), "{stray}");
    let short = refused(
        &with("[state]\nurl = \"postgres://govsync@db/govsync\"\nlease = \"1s\""),
        &[],
    );
    assert!(short.contains("state.lease"), "{short}");
}

#[test]
fn scopes_expand_per_region_with_their_groups_and_roles() {
    let config = load(
        &with(
            r#"
[[sagemaker.scopes]]
account_id = "111122223333"
regions = ["us-east-1", "eu-west-1"]
role_arn = "arn:aws:iam::111122223333:role/govsync"
external_id_env = "GOVSYNC_EXTERNAL_ID"
model_package_groups = ["churn", "arn:aws:sagemaker:us-east-1:444455556666:model-package-group/shared"]

[[sagemaker.scopes]]
account_id = "555566667777"
regions = ["cn-north-1"]
"#,
        ),
        // A variable the config names as a secret is no override, prefix or not.
        &[("GOVSYNC_EXTERNAL_ID", "x")],
    )
    .expect("valid scopes");
    let scopes: Vec<String> = config
        .sagemaker
        .scopes
        .iter()
        .map(|s| s.scope.to_string())
        .collect();
    assert_eq!(
        scopes,
        [
            "111122223333/us-east-1 (partition aws, groups churn, arn:aws:sagemaker:us-east-1:444455556666:model-package-group/shared)",
            "111122223333/eu-west-1 (partition aws, groups churn)",
            "555566667777/cn-north-1 (partition aws-cn, every group)",
        ]
    );
    let role = config.sagemaker.scopes[0].role.as_ref().expect("role");
    assert_eq!(role.session_name, DEFAULT_SESSION_NAME);
    assert_eq!(role.external_id_env.as_deref(), Some("GOVSYNC_EXTERNAL_ID"));
    assert!(config.sagemaker.scopes[2].role.is_none());
}

#[test]
fn bad_scopes_are_refused_by_key_and_reason() {
    let scope = |body: &str| with(&format!("[[sagemaker.scopes]]\n{body}"));
    for (text, key, why) in [
        (
            scope("account_id = \"1111\"\nregions = [\"us-east-1\"]"),
            "sagemaker.scopes[0].account_id",
            "not an AWS account ID",
        ),
        (
            scope("account_id = \"111122223333\"\nregions = []"),
            "sagemaker.scopes[0].regions",
            "at least one region",
        ),
        (
            scope("account_id = \"111122223333\"\nregions = [\"useast1\"]"),
            "sagemaker.scopes[0].regions[0]",
            "not an AWS region name",
        ),
        (
            scope("account_id = \"111122223333\"\nregions = [\"us-east-1\", \"us-east-1\"]"),
            "sagemaker.scopes[0].regions",
            "duplicate scope",
        ),
        (
            format!(
                "{}[[sagemaker.scopes]]\naccount_id = \"111122223333\"\nregions = [\"us-east-1\"]\n",
                scope("account_id = \"111122223333\"\nregions = [\"eu-west-1\", \"us-east-1\"]")
            ),
            "sagemaker.scopes[1].regions",
            "duplicate scope",
        ),
        (
            scope(
                "account_id = \"111122223333\"\nregions = [\"us-east-1\"]\nrole_arn = \"arn:aws:iam::111122223333:user/govsync\"",
            ),
            "sagemaker.scopes[0].role_arn",
            "not an IAM role ARN",
        ),
        (
            scope(
                "account_id = \"111122223333\"\nregions = [\"us-east-1\"]\nrole_arn = \"arn:aws:iam::999988887777:role/govsync\"",
            ),
            "sagemaker.scopes[0].role_arn",
            "the role is in account 999988887777",
        ),
        (
            scope(
                "account_id = \"111122223333\"\nregions = [\"us-east-1\"]\nexternal_id_env = \"X\"",
            ),
            "sagemaker.scopes[0].external_id_env",
            "only used with role_arn",
        ),
        (
            scope(
                "account_id = \"111122223333\"\nregions = [\"us-east-1\"]\nmodel_package_groups = [\"arn:aws:sagemaker:eu-west-1:444455556666:model-package-group/g\"]",
            ),
            "sagemaker.scopes[0].model_package_groups[0]",
            "region eu-west-1",
        ),
        (
            scope(
                "account_id = \"111122223333\"\nregions = [\"us-east-1\"]\nmodel_package_groups = [\"arn:aws:sagemaker:us-east-1:444455556666:model-package/g/1\"]",
            ),
            "sagemaker.scopes[0].model_package_groups[0]",
            "not a SageMaker model package group ARN",
        ),
        (
            scope("account_id = \"111122223333\"\nregions = [\"us-east-1\", \"cn-north-1\"]"),
            "sagemaker.scopes[0].regions",
            "one entry lists one partition",
        ),
        (
            with(
                "[sagemaker]\nregion = \"us-east-1\"\n[[sagemaker.scopes]]\naccount_id = \"111122223333\"\nregions = [\"us-east-1\"]",
            ),
            "sagemaker.region",
            "only when no [[sagemaker.scopes]]",
        ),
    ] {
        let message = refused(&text, &[]);
        assert!(
            message.contains(&format!("`{key}`")) && message.contains(why),
            "{key}: {message}"
        );
    }
}

#[test]
fn the_write_mode_is_field_or_workflow() {
    let config = load(MINIMAL, &[]).expect("valid");
    assert_eq!(config.governance.write_mode, WriteMode::Field);
    assert!(!config.governance.field_write_fallback);
    let config = load(MINIMAL, &[("GOVSYNC_GOVERNANCE_WRITE_MODE", "workflow")]).expect("valid");
    assert_eq!(config.governance.write_mode, WriteMode::Workflow);
    let error = refused(MINIMAL, &[("GOVSYNC_GOVERNANCE_WRITE_MODE", "console")]);
    assert!(
        error.contains("governance.write_mode")
            && error.contains("unknown write mode \"console\", expected one of: field, workflow"),
        "{error}"
    );
}
