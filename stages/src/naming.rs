//! Resource names: the defaults derived from stack, account and region (so a stack can be
//! found again without its state file), and the rules AWS puts on each kind of name, checked
//! before the first AWS call so a bad name never fails half-way through `up`.

/// A resource's id: the key of its state record, its `[names]` entry, its facts and the
/// graph. Each resource module declares its own `pub const ID`; everything else names it
/// through that constant, so a renamed one fails to compile instead of panicking at run time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceId(&'static str);

impl ResourceId {
    pub const fn new(id: &'static str) -> ResourceId {
        ResourceId(id)
    }

    pub const fn as_str(self) -> &'static str {
        self.0
    }
}

impl std::fmt::Display for ResourceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// The kinds of name AWS validates differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameKind {
    Bucket,
    MediaConvert,
    IamRole,
    LambdaFunction,
    OriginAccessControl,
    StatementId,
    NotificationId,
    EventRule,
    Topic,
    /// A CloudFront key group, or the prefix of the public keys' names (each key adds
    /// `-<seconds since the epoch>`: 11 of CloudFront's 128 characters).
    SigningKeys,
    /// A Secrets Manager secret.
    Secret,
}

/// A name that AWS would refuse: which resource, the name, and the rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{rule}")]
pub struct NameError {
    pub rule: String,
}

fn fail(rule: impl Into<String>) -> Result<(), NameError> {
    Err(NameError { rule: rule.into() })
}

/// The stack name: it prefixes every derived name, so it must keep all of them valid.
pub fn validate_stack(stack: &str) -> Result<(), NameError> {
    let ok_chars = stack
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if stack.is_empty() || stack.len() > 20 || !ok_chars {
        return fail("must be 1 to 20 characters of a-z, 0-9 and '-'");
    }
    if stack.starts_with('-') || stack.ends_with('-') {
        return fail("must start and end with a letter or digit");
    }
    if stack.starts_with("xn--")
        || stack.starts_with("sthree-")
        || stack.starts_with("amzn-s3-demo-")
    {
        return fail("must not start with 'xn--', 'sthree-' or 'amzn-s3-demo-' (S3 reserves them)");
    }
    Ok(())
}

/// A region name's shape (`us-east-1`, `ap-southeast-2`, `us-gov-west-1`). Whether the
/// region exists is for AWS to say.
pub fn validate_region(region: &str) -> Result<(), NameError> {
    let parts: Vec<&str> = region.split('-').collect();
    let shaped = parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].len() <= 2
        && !parts[parts.len() - 1].is_empty()
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit());
    if !shaped {
        return fail("must look like 'us-east-1' or 'ap-southeast-2'");
    }
    Ok(())
}

/// S3 general purpose bucket naming rules.
pub fn validate_bucket(name: &str) -> Result<(), NameError> {
    if name.len() < 3 || name.len() > 63 {
        return fail(format!(
            "must be 3 to 63 characters long (it is {})",
            name.len()
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return fail("may contain only lowercase letters, digits, '.' and '-'");
    }
    let alnum = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !alnum(name.bytes().next()) || !alnum(name.bytes().last()) {
        return fail("must begin and end with a letter or digit");
    }
    if name.contains("..") {
        return fail("must not contain two adjacent periods");
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return fail("must not be formatted as an IP address");
    }
    for prefix in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if name.starts_with(prefix) {
            return fail(format!("must not start with '{prefix}'"));
        }
    }
    for suffix in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] {
        if name.ends_with(suffix) {
            return fail(format!("must not end with '{suffix}'"));
        }
    }
    Ok(())
}

fn validate_chars(name: &str, max: usize, allowed: &str, extra: &[u8]) -> Result<(), NameError> {
    if name.is_empty() || name.len() > max {
        return fail(format!("must be 1 to {max} characters of {allowed}"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
    {
        return fail(format!("must be 1 to {max} characters of {allowed}"));
    }
    Ok(())
}

/// The rules of one kind of name.
pub fn validate_name(kind: NameKind, name: &str) -> Result<(), NameError> {
    match kind {
        NameKind::Bucket => validate_bucket(name),
        NameKind::MediaConvert => validate_chars(name, 128, "A-Z, a-z, 0-9, '-' and '_'", b"-_"),
        NameKind::IamRole => validate_chars(name, 64, "A-Z, a-z, 0-9 and '+=,.@_-'", b"+=,.@_-"),
        NameKind::LambdaFunction => validate_chars(name, 64, "A-Z, a-z, 0-9, '-' and '_'", b"-_"),
        NameKind::OriginAccessControl => {
            validate_chars(name, 64, "A-Z, a-z, 0-9, '-', '_' and '.'", b"-_.")
        }
        NameKind::StatementId => validate_chars(name, 100, "A-Z, a-z, 0-9, '-' and '_'", b"-_"),
        NameKind::NotificationId => {
            validate_chars(name, 255, "A-Z, a-z, 0-9, '-', '_' and '.'", b"-_.")
        }
        NameKind::EventRule => validate_chars(name, 64, "A-Z, a-z, 0-9, '-', '_' and '.'", b"-_."),
        NameKind::Topic => validate_chars(name, 256, "A-Z, a-z, 0-9, '-' and '_'", b"-_"),
        NameKind::SigningKeys => validate_chars(name, 117, "A-Z, a-z, 0-9, '-' and '_'", b"-_"),
        NameKind::Secret => validate_chars(name, 256, "A-Z, a-z, 0-9 and '/_+=.@-'", b"/_+=.@-"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_rules() {
        for good in [
            "abc",
            "cattube-source-123456789012-ap-southeast-2",
            "a.b-c",
            &"a".repeat(63),
        ] {
            assert_eq!(validate_bucket(good), Ok(()), "{good}");
        }
        for bad in [
            "ab",
            &"a".repeat(64),
            "Abc",
            "a_b",
            "-abc",
            "abc-",
            "a..b",
            "192.168.5.4",
            "xn--abc",
            "sthree-abc",
            "abc-s3alias",
            "abc--ol-s3",
            "abc.mrap",
            "abc--x-s3",
        ] {
            assert!(validate_bucket(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn stack_rules() {
        assert_eq!(validate_stack("cattube"), Ok(()));
        assert_eq!(validate_stack("a"), Ok(()));
        for bad in [
            "",
            "Cat",
            "cat_tube",
            "-cat",
            "cat-",
            &"a".repeat(21),
            "xn--cat",
        ] {
            assert!(validate_stack(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn region_rules() {
        for good in [
            "us-east-1",
            "ap-southeast-2",
            "us-gov-west-1",
            "eu-central-2",
        ] {
            assert_eq!(validate_region(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "useast1",
            "us-east",
            "US-EAST-1",
            "us-east-1a",
            "u-east-1",
            "us--1",
        ] {
            assert!(validate_region(bad).is_err(), "{bad} should be refused");
        }
    }
}
