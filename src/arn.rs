//! The one place that parses a SageMaker versioned model package ARN:
//! `arn:<partition>:sagemaker:<region>:<account>:model-package/<group>/<version>`.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

/// A validated ARN of a versioned SageMaker model package. Two ARNs are equal when
/// their text is equal (the text is kept exactly as given, after validation).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PackageArn {
    text: String,
    version: u32,
}

/// Why a text is not a versioned model package ARN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "\"{text}\" is not a SageMaker model package ARN: {reason} (expected arn:<partition>:sagemaker:<region>:<account>:model-package/<group>/<version>)"
)]
pub struct ArnError {
    text: String,
    reason: &'static str,
}

impl PackageArn {
    /// Parses and validates an ARN.
    pub fn parse(text: &str) -> Result<PackageArn, ArnError> {
        let fail = |reason| {
            Err(ArnError {
                text: text.to_string(),
                reason,
            })
        };
        let parts: Vec<&str> = text.splitn(6, ':').collect();
        let [prefix, partition, service, region, account, resource] = parts[..] else {
            return fail("it does not have six ':'-separated parts");
        };
        if prefix != "arn" {
            return fail("it does not start with \"arn:\"");
        }
        if !matches!(
            partition,
            "aws" | "aws-cn" | "aws-us-gov" | "aws-iso" | "aws-iso-b"
        ) && !is_label(partition)
        {
            return fail("the partition is not valid");
        }
        if service != "sagemaker" {
            return fail("the service is not \"sagemaker\"");
        }
        if !is_label(region) {
            return fail("the region is not valid");
        }
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return fail("the account is not 12 digits");
        }
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

    /// The 12-digit account ID.
    pub fn account(&self) -> &str {
        self.field(4)
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
