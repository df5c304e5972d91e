//! One line a person can read for an AWS SDK error (SageMaker or STS): the
//! operation and what it was about, the AWS error code and message, the request id,
//! and what to do. Never the SDK's debug output.

use std::error::Error;

use aws_sdk_sagemaker::config::http::HttpResponse;
use aws_sdk_sagemaker::error::{ErrorMetadata, ProvideErrorMetadata, SdkError};
use aws_sdk_sagemaker::operation::RequestId;

/// What to say when no credentials could be found anywhere in the chain.
pub const NO_CREDENTIALS: &str = "no AWS credentials were found: provide them with \
     AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile (AWS_PROFILE), web identity \
     (IRSA on EKS), the ECS task role or an EC2 instance profile";

/// True when the error comes from loading credentials (none found, or a role that
/// could not be assumed) rather than from the service.
pub fn is_credentials_error(error: &(dyn Error + 'static)) -> bool {
    let mut next: Option<&(dyn Error + 'static)> = Some(error);
    while let Some(e) = next {
        if e.downcast_ref::<aws_credential_types::provider::error::CredentialsError>()
            .is_some()
        {
            return true;
        }
        next = e.source();
    }
    false
}

/// True when no provider of the chain had credentials at all.
pub fn credentials_not_loaded(error: &(dyn Error + 'static)) -> bool {
    use aws_credential_types::provider::error::CredentialsError;
    let mut next: Option<&(dyn Error + 'static)> = Some(error);
    while let Some(e) = next {
        if let Some(CredentialsError::CredentialsNotLoaded(_)) = e.downcast_ref() {
            return true;
        }
        next = e.source();
    }
    false
}

/// What to do about an AWS error code, when there is something to say.
fn hint(code: &str) -> &'static str {
    match code {
        "ThrottlingException" | "Throttling" | "TooManyRequestsException" => {
            "; the SDK's retries ran out: raise sagemaker.max_attempts, or lower sync.concurrency"
        }
        "AccessDeniedException" | "AccessDenied" => {
            "; check the IAM policy of the credentials (deploy/iam) and, for an assumed role, its trust policy"
        }
        "ExpiredTokenException" | "ExpiredToken" | "RequestExpired" => {
            "; the credentials are there but have expired: renew them (a fresh AWS_SESSION_TOKEN and keys, `aws sso login` for a profile) or let the role's provider (IRSA, the ECS task role) issue new ones"
        }
        "UnrecognizedClientException" | "InvalidClientTokenId" | "InvalidSignatureException" => {
            "; the credentials are not valid for this account and region"
        }
        "InternalFailure" | "ServiceUnavailable" => {
            "; SageMaker failed on its side; the next cycle tries again"
        }
        _ => "",
    }
}

/// `<operation> for <subject>: <code>: <message> (request id …); <what to do>`.
pub fn describe<E>(operation: &str, subject: &str, error: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + Error + 'static,
{
    if credentials_not_loaded(error) {
        return format!("{operation} for {subject}: {NO_CREDENTIALS}");
    }
    match error {
        SdkError::ServiceError(_) => {
            let code = error.code().unwrap_or("UnknownError");
            let message = error.message().unwrap_or("(no message)");
            let request_id = error
                .request_id()
                .map(|id| format!(" (request id {id})"))
                .unwrap_or_default();
            format!(
                "{operation} for {subject}: {code}: {message}{request_id}{}",
                hint(code)
            )
        }
        SdkError::TimeoutError(_) => format!(
            "{operation} for {subject}: timed out (sagemaker.operation_timeout and attempt_timeout)"
        ),
        // Credentials that could not be had (a role that cannot be assumed): say what
        // STS answered, not the SDK's chain of wrappers.
        _ if is_credentials_error(error) => match metadata_in_chain(error) {
            Some(meta) => format!(
                "{operation} for {subject}: could not get credentials: {}: {}{}{}",
                meta.code().unwrap_or("UnknownError"),
                meta.message().unwrap_or("(no message)"),
                meta.request_id()
                    .map(|id| format!(" (request id {id})"))
                    .unwrap_or_default(),
                hint(meta.code().unwrap_or_default())
            ),
            None => format!(
                "{operation} for {subject}: could not get credentials: {}",
                chain_text(error)
            ),
        },
        _ => {
            let text = chain_text(error);
            let hint = transport_hint(&text);
            format!("{operation} for {subject}: {text}{hint}")
        }
    }
}

/// What to do about a request that never got an answer, from its error text (the
/// HTTP client says what failed only in words).
pub fn transport_hint(text: &str) -> &'static str {
    let text = text.to_ascii_lowercase();
    if text.contains("dns error") || text.contains("failed to lookup address") {
        "; the endpoint's host name does not resolve: check the region (sagemaker.region, or the scope's region) for a typo or a region without that service, any endpoint URL set, and that DNS reaches AWS from here"
    } else if text.contains("connection refused") {
        "; nothing answers at that address: check the endpoint URL (sagemaker.endpoint_url, sts_endpoint_url, AWS_ENDPOINT_URL_…)"
    } else {
        ""
    }
}

/// The error metadata (code, message, request id) of a service error somewhere in
/// the chain: STS's answer inside a credentials error.
fn metadata_in_chain<'a>(error: &'a (dyn Error + 'static)) -> Option<&'a ErrorMetadata> {
    let mut next: Option<&'a (dyn Error + 'static)> = Some(error);
    while let Some(e) = next {
        if let Some(meta) = e.downcast_ref::<ErrorMetadata>() {
            return Some(meta);
        }
        next = e.source();
    }
    None
}

/// Every level's message joined by ": ", each said once: what `DisplayErrorContext`
/// says, without the debug dump it ends with.
pub fn chain_text(error: &(dyn Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next: Option<&(dyn Error + 'static)> = Some(error);
    while let Some(e) = next {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_that_got_no_answer_says_what_to_check() {
        // hyper's words when a region has no such endpoint (or a typo names none).
        let dns = transport_hint(
            "dispatch failure: io error: client error (Connect): dns error: failed to lookup address information: Name or service not known",
        );
        assert!(
            dns.contains("does not resolve") && dns.contains("sagemaker.region"),
            "{dns}"
        );
        let refused =
            transport_hint("dispatch failure: io error: Connection refused (os error 111)");
        assert!(refused.contains("sagemaker.endpoint_url"), "{refused}");
        assert_eq!(transport_hint("ThrottlingException: Rate exceeded"), "");
    }
}
