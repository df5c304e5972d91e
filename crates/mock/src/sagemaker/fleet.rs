//! The mock's fleet: one registry per (account, region), the model package groups
//! shared between accounts (as AWS RAM would), and the session credentials its STS
//! issued. A request is served by the registry of the account its credentials belong
//! to, in the region of its SigV4 credential scope.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::registry::{AccountRegistry, ApiError, Change};

/// Who a request's credentials belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The 12-digit account.
    pub account: String,
    /// The caller's ARN (an IAM user, or an assumed-role session).
    pub arn: String,
    /// The caller's unique ID.
    pub user_id: String,
}

/// Session credentials issued by the mock's `AssumeRole`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    /// The role's account.
    pub account: String,
    /// The role assumed.
    pub role_arn: String,
    /// The session name given.
    pub session_name: String,
    /// When the credentials stop working (epoch seconds, on the mock's clock).
    pub expires: f64,
}

/// Everything the mock registry holds; serialisable so it can persist to a file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Fleet {
    /// Registries by `<account>/<region>`.
    registries: BTreeMap<String, AccountRegistry>,
    /// Group ARN → the accounts it is shared with.
    shares: BTreeMap<String, BTreeSet<String>>,
    /// Issued session credentials by access key ID.
    sessions: BTreeMap<String, Session>,
    /// Seconds the mock's clock runs ahead of the real one (for credential expiry).
    clock_offset: f64,
    /// Seconds the `Search` index lags behind the registries (not persisted).
    #[serde(skip)]
    search_lag: f64,
    /// The time of the latest request: each request's time is after the one before
    /// (by a microsecond at least), so that no two changes share a
    /// `LastModifiedTime` and orders by time are total.
    #[serde(default)]
    latest: f64,
}

/// The (account, region) a request is served in.
pub type Place = (String, String);

/// One line of the state file's log: a change in the registry of `place`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Logged {
    /// Where.
    pub place: Place,
    /// What.
    pub change: Change,
}

fn key(account: &str, region: &str) -> String {
    format!("{account}/{region}")
}

/// The owner account and the group name in a group or package ARN
/// (`arn:…:<account>:model-package-group/<g>` or `arn:…:<account>:model-package/<g>/<v>`).
fn owner_and_group(name_or_arn: &str) -> Option<(&str, &str)> {
    let parts: Vec<&str> = name_or_arn.splitn(6, ':').collect();
    let [_, _, _, _, account, resource] = parts[..] else {
        return None;
    };
    let group = resource
        .strip_prefix("model-package-group/")
        .or_else(|| resource.strip_prefix("model-package/")?.split('/').next())?;
    Some((account, group))
}

impl Fleet {
    /// The registry of an account in a region, made empty on first use.
    pub fn registry(&mut self, account: &str, region: &str) -> &mut AccountRegistry {
        self.registries
            .entry(key(account, region))
            .or_insert_with(|| AccountRegistry::new(region, account))
    }

    /// Applies a change the state file's log recorded.
    pub fn replay(&mut self, logged: Logged) {
        let (account, region) = &logged.place;
        self.registry(account, region).replay(logged.change);
    }

    /// Rebuilds every registry's listing index (after loading).
    pub fn reindex(&mut self) {
        for registry in self.registries.values_mut() {
            registry.reindex();
        }
    }

    /// Shares a group (by ARN) with another account, as AWS RAM does.
    pub fn share(&mut self, group_arn: &str, account: &str) -> Result<(), ApiError> {
        if owner_and_group(group_arn).is_none() || !group_arn.contains(":model-package-group/") {
            return Err(ApiError::validation(format!(
                "{group_arn} is not a model package group ARN"
            )));
        }
        self.shares
            .entry(group_arn.to_string())
            .or_default()
            .insert(account.to_string());
        Ok(())
    }

    /// The mock's clock: the real one plus the offset an admin call set.
    pub fn now(&self, real: f64) -> f64 {
        real + self.clock_offset
    }

    /// Moves the mock's clock forward (credentials issued before then may expire).
    pub fn advance_clock(&mut self, seconds: f64) {
        self.clock_offset += seconds.max(0.0);
    }

    /// Records session credentials issued for a role.
    pub fn add_session(&mut self, access_key: String, session: Session) {
        self.sessions.insert(access_key, session);
    }

    /// Who `access_key` belongs to at time `real_now`: a session the mock issued
    /// (refused once expired), a key it was told about (`keys`), or else the default
    /// account (any other credentials will do, as before).
    pub fn identify(
        &self,
        access_key: &str,
        keys: &BTreeMap<String, String>,
        default_account: &str,
        real_now: f64,
    ) -> Result<Identity, ApiError> {
        if let Some(session) = self.sessions.get(access_key) {
            if session.expires <= self.now(real_now) {
                return Err(ApiError {
                    status: 400,
                    code: "ExpiredTokenException",
                    message: "The security token included in the request is expired".into(),
                });
            }
            let role_name = session.role_arn.rsplit('/').next().unwrap_or_default();
            return Ok(Identity {
                account: session.account.clone(),
                arn: format!(
                    "arn:aws:sts::{}:assumed-role/{role_name}/{}",
                    session.account, session.session_name
                ),
                user_id: format!("AROAMOCK{}:{}", role_name.len(), session.session_name),
            });
        }
        if access_key.starts_with("ASIA") {
            return Err(ApiError {
                status: 400,
                code: "UnrecognizedClientException",
                message: "The security token included in the request is invalid.".into(),
            });
        }
        let account = keys
            .get(access_key)
            .map_or(default_account, String::as_str)
            .to_string();
        Ok(Identity {
            arn: format!("arn:aws:iam::{account}:user/mock-{access_key}"),
            user_id: format!("AIDAMOCK{access_key}"),
            account,
        })
    }

    /// Where an operation of `caller` in `region` is served: the caller's own
    /// registry, or the owner's when it names (by ARN) a group the owner shared with
    /// the caller. A group of another account that is not shared is refused.
    fn place(
        &self,
        caller: &str,
        region: &str,
        operation: &str,
        input: &Value,
    ) -> Result<Place, ApiError> {
        let own = || Ok((caller.to_string(), region.to_string()));
        let named = [
            "ModelPackageGroupName",
            "ModelPackageName",
            "ModelPackageArn",
        ]
        .iter()
        .find_map(|field| input.get(*field)?.as_str());
        let Some((owner, group)) = named.and_then(owner_and_group) else {
            return own();
        };
        if owner == caller {
            return own();
        }
        let shared = self.shares.iter().any(|(arn, accounts)| {
            owner_and_group(arn) == Some((owner, group))
                && arn.split(':').nth(3) == Some(region)
                && accounts.contains(caller)
        });
        let denied = || {
            Err(ApiError {
                status: 400,
                code: "AccessDeniedException",
                message: format!(
                    "User: arn:aws:iam::{caller}:user/mock is not authorized to perform: \
                     sagemaker:{operation} on a resource of account {owner}"
                ),
            })
        };
        let names_a_group = operation.starts_with("List") || operation.ends_with("Group");
        match operation {
            "DeleteModelPackage" | "CreateModelPackage" if shared => denied(),
            _ if shared => Ok((owner.to_string(), region.to_string())),
            _ if names_a_group => denied(),
            // Another account's package that is not shared: SageMaker looks for it in
            // the caller's own registry and does not find it.
            _ => own(),
        }
    }

    /// The time of a request arriving at `now` (epoch seconds): at least a
    /// microsecond after the one before.
    pub fn tick(&mut self, now: f64) -> f64 {
        self.latest = now.max(self.latest + 0.000_001);
        self.latest
    }

    /// Moves every package's times `seconds` into the past (see
    /// [`AccountRegistry::age`]).
    pub fn age(&mut self, seconds: f64) {
        for registry in self.registries.values_mut() {
            registry.age(seconds);
        }
    }

    /// Runs an operation for `caller` in `region` at time `now`; also says where.
    pub fn call(
        &mut self,
        caller: &str,
        region: &str,
        operation: &str,
        input: Value,
        now: f64,
    ) -> Result<(Value, Change, Place), ApiError> {
        let now = self.tick(now);
        let place = self.place(caller, region, operation, &input)?;
        let lag = self.search_lag;
        let (output, change) = self
            .registry(&place.0, &place.1)
            .call_with_lag(operation, input, now, lag)?;
        Ok((output, change, place))
    }

    /// Sets how far the `Search` index lags behind the registries.
    pub fn set_search_lag(&mut self, seconds: f64) {
        self.search_lag = seconds.max(0.0);
    }

    /// The registry holding a package ARN (by its account and region), if any.
    pub fn holding(&mut self, arn: &str) -> Option<&mut AccountRegistry> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let [_, _, _, region, account, _] = parts[..] else {
            return None;
        };
        self.registries.get_mut(&key(account, region))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_shared_group_is_served_from_its_owner_and_an_unshared_one_is_refused() {
        let mut fleet = Fleet::default();
        fleet
            .registry("444455556666", "us-east-1")
            .call(
                "CreateModelPackageGroup",
                json!({"ModelPackageGroupName": "shared"}),
                1.0,
            )
            .expect("group");
        let group = "arn:aws:sagemaker:us-east-1:444455556666:model-package-group/shared";
        let list = json!({"ModelPackageGroupName": group, "MaxResults": 10});
        let refused = fleet
            .call(
                "111122223333",
                "us-east-1",
                "ListModelPackages",
                list.clone(),
                2.0,
            )
            .expect_err("not shared yet");
        assert_eq!(refused.code, "AccessDeniedException");
        fleet.share(group, "111122223333").expect("share");
        let (_, _, place) = fleet
            .call("111122223333", "us-east-1", "ListModelPackages", list, 3.0)
            .expect("shared");
        assert_eq!(place, ("444455556666".to_string(), "us-east-1".to_string()));
    }

    #[test]
    fn issued_sessions_expire_on_the_mock_clock() {
        let mut fleet = Fleet::default();
        fleet.add_session(
            "ASIAMOCK1".into(),
            Session {
                account: "111122223333".into(),
                role_arn: "arn:aws:iam::111122223333:role/r".into(),
                session_name: "s".into(),
                expires: 100.0,
            },
        );
        let keys = BTreeMap::new();
        let who = fleet
            .identify("ASIAMOCK1", &keys, "123456789012", 50.0)
            .expect("valid");
        assert_eq!(who.account, "111122223333");
        fleet.advance_clock(60.0);
        let expired = fleet
            .identify("ASIAMOCK1", &keys, "123456789012", 50.0)
            .expect_err("expired");
        assert_eq!(expired.code, "ExpiredTokenException");
        assert_eq!(
            fleet
                .identify("ASIANOTISSUED", &keys, "123456789012", 50.0)
                .expect_err("unknown")
                .code,
            "UnrecognizedClientException"
        );
        assert_eq!(
            fleet
                .identify("AKIDANY", &keys, "123456789012", 50.0)
                .expect("default")
                .account,
            "123456789012"
        );
    }
}
