//! The one place that parses SageMaker ARNs: a versioned model package
//! (`arn:<partition>:sagemaker:<region>:<account>:model-package/<group>/<version>`)
//! and a model package group
//! (`arn:<partition>:sagemaker:<region>:<account>:model-package-group/<group>`), and
//! the checks of their parts (account IDs, regions) that configuration reuses.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

/// The accessors every parsed SageMaker ARN type has, written once.
macro_rules! arn_parts {
    ($type:ty) => {
        impl $type {
            /// The ARN as text.
            pub fn as_str(&self) -> &str {
                &self.text
            }

            fn field(&self, index: usize) -> &str {
                self.text
                    .split(':')
                    .nth(index)
                    .expect("a parsed ARN has six parts")
            }

            /// The partition (`aws`, `aws-cn`, …).
            pub fn partition(&self) -> &str {
                self.field(1)
            }

            /// The region (`us-east-1`, …).
            pub fn region(&self) -> &str {
                self.field(3)
            }

            /// The 12-digit account ID (of the owner).
            pub fn account(&self) -> &str {
                self.field(4)
            }
        }
    };
}

/// A validated ARN of a versioned SageMaker model package. Two ARNs are equal when
/// their text is equal (the text is kept exactly as given, after validation).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PackageArn {
    text: String,
    version: u32,
}

/// Why a text is not a versioned model package ARN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{text}\" is not a {what}: {reason} (expected {expected})")]
pub struct ArnError {
    text: String,
    reason: &'static str,
    what: &'static str,
    expected: &'static str,
}

impl ArnError {
    /// The error without the text it is about, for where the text is already named
    /// (e.g. a skipped row identified by it): `not a …: why (expected …)`.
    pub fn without_text(&self) -> String {
        format!(
            "not a {}: {} (expected {})",
            self.what, self.reason, self.expected
        )
    }
}

impl PackageArn {
    /// Parses and validates an ARN.
    pub fn parse(text: &str) -> Result<PackageArn, ArnError> {
        let fail = |reason| {
            Err(ArnError {
                text: text.to_string(),
                reason,
                what: "SageMaker model package ARN",
                expected: PACKAGE_FORM,
            })
        };
        let resource = match sagemaker_resource(text) {
            Ok(resource) => resource,
            Err(reason) => return fail(reason),
        };
        let Some(path) = resource.strip_prefix("model-package/") else {
            return fail("the resource is not model-package/...");
        };
        let Some((group, version)) = path.split_once('/') else {
            return fail("it has no version (an unversioned package cannot be linked)");
        };
        if !is_group_name(group) {
            return fail("the model package group name is not valid");
        }
        let Some(version) = version.parse::<u32>().ok().filter(|v| *v >= 1) else {
            return fail("the version is not a positive integer");
        };
        Ok(PackageArn {
            text: text.to_string(),
            version,
        })
    }

    /// The model package group name.
    pub fn group(&self) -> &str {
        let resource = self.field(5);
        let path = &resource["model-package/".len()..];
        path.split('/').next().expect("a parsed ARN has a group")
    }

    /// The package version within its group.
    pub fn version(&self) -> u32 {
        self.version
    }
}

/// Checks the parts every SageMaker ARN shares and returns its resource part
/// (after the fifth `:`), or why the text is not a SageMaker ARN.
fn sagemaker_resource(text: &str) -> Result<&str, &'static str> {
    let parts: Vec<&str> = text.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts[..] else {
        return Err("it does not have six ':'-separated parts");
    };
    if prefix != "arn" {
        return Err("it does not start with \"arn:\"");
    }
    if !is_label(partition) {
        return Err("the partition is not valid");
    }
    if service != "sagemaker" {
        return Err("the service is not \"sagemaker\"");
    }
    if !is_label(region) {
        return Err("the region is not valid");
    }
    if !is_account_id(account) {
        return Err("the account is not 12 digits");
    }
    Ok(resource)
}

/// An AWS account ID: exactly 12 digits.
pub fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// The form of an AWS region name: lower-case words and a number, joined by hyphens
/// (`us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`).
pub fn is_region_name(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1]
            .parse::<u32>()
            .is_ok_and(|_| parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit()))
}

/// The AWS partition a region belongs to (`aws-cn` for `cn-…`, `aws-us-gov` for
/// `us-gov-…`, `aws-iso` for `us-iso-…`, `aws-iso-b` for `us-isob-…`, else `aws`).
pub fn partition_of_region(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else {
        "aws"
    }
}

/// A validated ARN of a SageMaker model package group, as a group shared through AWS
/// RAM is named: `arn:<partition>:sagemaker:<region>:<account>:model-package-group/<group>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupArn {
    text: String,
}

arn_parts!(PackageArn);
arn_parts!(GroupArn);

impl GroupArn {
    /// Parses and validates a group ARN.
    pub fn parse(text: &str) -> Result<GroupArn, ArnError> {
        let fail = |reason| {
            Err(ArnError {
                text: text.to_string(),
                reason,
                what: "SageMaker model package group ARN",
                expected: GROUP_FORM,
            })
        };
        let resource = match sagemaker_resource(text) {
            Ok(resource) => resource,
            Err(reason) => return fail(reason),
        };
        let Some(group) = resource.strip_prefix("model-package-group/") else {
            return fail("the resource is not model-package-group/...");
        };
        if !is_group_name(group) {
            return fail("the model package group name is not valid");
        }
        Ok(GroupArn {
            text: text.to_string(),
        })
    }

    /// The group's name.
    pub fn name(&self) -> &str {
        &self.field(5)["model-package-group/".len()..]
    }
}

impl fmt::Display for GroupArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

const PACKAGE_FORM: &str =
    "arn:<partition>:sagemaker:<region>:<account>:model-package/<group>/<version>";
const GROUP_FORM: &str = "arn:<partition>:sagemaker:<region>:<account>:model-package-group/<group>";

/// Lower-case letters, digits and inner hyphens: partitions and regions.
fn is_label(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !text.starts_with('-')
        && !text.ends_with('-')
}

/// SageMaker's `ModelPackageGroupName`: 1–63 characters, `[a-zA-Z0-9](-*[a-zA-Z0-9])*`.
fn is_group_name(text: &str) -> bool {
    crate::mapping::check_lifecycle_name("group", text).is_ok()
}

impl FromStr for PackageArn {
    type Err = ArnError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PackageArn::parse(s)
    }
}

impl fmt::Display for PackageArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for PackageArn {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_versioned_package_arn() {
        let arn = PackageArn::parse(
            "arn:aws:sagemaker:eu-west-1:123456789012:model-package/churn-model/7",
        )
        .expect("valid");
        assert_eq!(arn.partition(), "aws");
        assert_eq!(arn.region(), "eu-west-1");
        assert_eq!(arn.account(), "123456789012");
        assert_eq!(arn.group(), "churn-model");
        assert_eq!(arn.version(), 7);
        assert_eq!(
            arn.to_string(),
            "arn:aws:sagemaker:eu-west-1:123456789012:model-package/churn-model/7"
        );
    }

    #[test]
    fn other_partitions_parse() {
        let arn =
            PackageArn::parse("arn:aws-cn:sagemaker:cn-north-1:123456789012:model-package/g/1")
                .expect("valid");
        assert_eq!(arn.partition(), "aws-cn");
    }

    #[test]
    fn malformed_arns_say_what_is_wrong() {
        for (text, why) in [
            ("", "six ':'-separated parts"),
            ("churn-model/7", "six ':'-separated parts"),
            (
                "urn:aws:sagemaker:us-east-1:123456789012:model-package/g/1",
                "start with \"arn:\"",
            ),
            (
                "arn:aws:s3:us-east-1:123456789012:model-package/g/1",
                "service",
            ),
            (
                "arn:aws:sagemaker::123456789012:model-package/g/1",
                "region",
            ),
            (
                "arn:aws:sagemaker:us-east-1:12345:model-package/g/1",
                "12 digits",
            ),
            (
                "arn:aws:sagemaker:us-east-1:123456789012:model/g/1",
                "model-package/",
            ),
            (
                "arn:aws:sagemaker:us-east-1:123456789012:model-package/g",
                "no version",
            ),
            (
                "arn:aws:sagemaker:us-east-1:123456789012:model-package/g/0",
                "positive integer",
            ),
            (
                "arn:aws:sagemaker:us-east-1:123456789012:model-package/g/x",
                "positive integer",
            ),
            (
                "arn:aws:sagemaker:us-east-1:123456789012:model-package/g/1/2",
                "positive integer",
            ),
            (
                "arn:aws:sagemaker:us-east-1:123456789012:model-package/bad_group/1",
                "group name",
            ),
        ] {
            let err = PackageArn::parse(text).expect_err(text).to_string();
            assert!(err.contains(why), "{text}: {err}");
            assert!(err.contains(&format!("\"{text}\"")), "{err}");
        }
    }
}
