//! The S3 calls of the shared state: one object read and written with conditional requests
//! (`If-Match` with the ETag last read or written, `If-None-Match: *` for the first), a lock
//! object beside it created with `If-None-Match: *`, and the state bucket itself, created
//! on first use with the settings of the stack's buckets. The bucket belongs to no stack:
//! no step observes or destroys it.

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use aws_sdk_s3::Client;

use crate::context::partition;
use crate::error::{AwsContext, AwsError, AwsFound};
use crate::resources::bucket::{all_public_access_blocked, create_bucket, sse_s3};
use crate::{policy, Service, StepError};

/// `s3` with its region replaced: the state bucket may live in another region than the
/// stack (`[state] region`); S3 answers a request signed for the wrong region with a
/// redirect, not the object.
pub fn client_in(s3: &Client, region: &str) -> Client {
    let conf = s3
        .config()
        .to_builder()
        .region(aws_sdk_s3::config::Region::new(region.to_string()))
        .build();
    Client::from_conf(conf)
}

/// One S3 bucket and key.
#[derive(Clone, Debug)]
pub struct RemoteObject {
    pub s3: Client,
    pub bucket: String,
    pub key: String,
}

/// An object's text and its ETag.
#[derive(Clone, Debug)]
pub struct Fetched {
    pub text: String,
    pub etag: String,
}

/// What a conditional write requires of the object it replaces.
#[derive(Clone, Debug)]
pub enum Expect {
    /// There is none (`If-None-Match: *`).
    Absent,
    /// It still has this ETag (`If-Match`).
    Etag(String),
}

/// A conditional write that S3 refused, or a call that failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// 412 PreconditionFailed (the object is not the one expected), 409
    /// ConditionalRequestConflict (another conditional write to it was in progress), or 404
    /// for an `If-Match` on an object that is gone: someone else wrote.
    #[error("s3://{bucket}/{key} changed since this run read it ({code})")]
    Changed {
        bucket: String,
        key: String,
        code: String,
    },
    #[error(transparent)]
    Aws(#[from] StepError),
}

/// Whether a refused conditional request means the object is not the one expected.
fn precondition_refused<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<String> {
    let code = err.as_service_error()?.code()?;
    matches!(
        code,
        "PreconditionFailed" | "ConditionalRequestConflict" | "NoSuchKey"
    )
    .then(|| code.to_string())
}

impl RemoteObject {
    pub fn new(s3: Client, bucket: &str, key: &str) -> RemoteObject {
        RemoteObject {
            s3,
            bucket: bucket.to_string(),
            key: key.to_string(),
        }
    }

    /// The same bucket, another key (the lock beside the state).
    pub fn sibling(&self, key: &str) -> RemoteObject {
        RemoteObject::new(self.s3.clone(), &self.bucket, key)
    }

    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    /// The object, or `None` when there is none (or no bucket yet).
    pub async fn get(&self) -> Result<Option<Fetched>, StepError> {
        let answer = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .send()
            .await
            .found(Service::S3, || format!("reading {}", self.url()))?;
        let Some(out) = answer else {
            return Ok(None);
        };
        let etag = out.e_tag().unwrap_or_default().to_string();
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| StepError::with_source(format!("reading {}", self.url()), e))?;
        let text = String::from_utf8(bytes.to_vec())
            .map_err(|e| StepError::with_source(format!("{} is not UTF-8 text", self.url()), e))?;
        Ok(Some(Fetched { text, etag }))
    }

    /// Writes `text` if the object is as `expect` says: the new ETag.
    pub async fn put(&self, text: String, expect: &Expect) -> Result<String, WriteError> {
        let mut request = self
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .content_type("application/json")
            .body(ByteStream::from(text.into_bytes()));
        request = match expect {
            Expect::Absent => request.if_none_match("*"),
            Expect::Etag(etag) => request.if_match(etag),
        };
        match request.send().await {
            Ok(out) => Ok(out.e_tag().unwrap_or_default().to_string()),
            Err(err) => Err(self.refused("writing", &err)),
        }
    }

    /// A conditional request's error: the object changed, or the call failed.
    fn refused<E, R>(&self, doing: &str, err: &SdkError<E, R>) -> WriteError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug + 'static,
    {
        match precondition_refused(err) {
            Some(code) => WriteError::Changed {
                bucket: self.bucket.clone(),
                key: self.key.clone(),
                code,
            },
            None => {
                StepError::with_source(format!("{doing} {}", self.url()), AwsError::from_sdk(err))
                    .into()
            }
        }
    }

    /// Deletes the object, only if it still has `etag` when one is given. Gone is success.
    pub async fn delete(&self, etag: Option<&str>) -> Result<(), WriteError> {
        let mut request = self.s3.delete_object().bucket(&self.bucket).key(&self.key);
        if let Some(etag) = etag {
            request = request.if_match(etag);
        }
        match request.send().await {
            Ok(_) => Ok(()),
            Err(err) if etag.is_none() && err.code() == Some("NoSuchKey") => Ok(()),
            Err(err) => Err(self.refused("deleting", &err)),
        }
    }

    /// Whether the bucket exists (HeadBucket).
    pub async fn bucket_exists(&self) -> Result<bool, StepError> {
        let head = self.s3.head_bucket().bucket(&self.bucket).send().await;
        let found = head.found(Service::S3, || {
            format!("looking for the state bucket {}", self.bucket)
        })?;
        Ok(found.is_some())
    }

    /// Creates the state bucket when it is missing: versioning on, all public access
    /// blocked, SSE-S3, BucketOwnerEnforced and the TLS-only statement. An existing bucket
    /// is used as it is. Whether it was created.
    pub async fn ensure_bucket(&self, region: &str) -> Result<bool, StepError> {
        if self.bucket_exists().await? {
            return Ok(false);
        }
        let name = &self.bucket;
        match create_bucket(&self.s3, name, region).await {
            Ok(()) => {}
            // Another run created it in the meantime: it is used as it is.
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_bucket_already_owned_by_you()) =>
            {
                return Ok(false)
            }
            Err(err) => {
                return Err(StepError::with_source(
                    format!("creating the state bucket {name}"),
                    AwsError::from_sdk(&err),
                ))
            }
        }
        let s3 = &self.s3;
        let versioning = s3
            .put_bucket_versioning()
            .bucket(name)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send();
        let public_access = s3
            .put_public_access_block()
            .bucket(name)
            .public_access_block_configuration(all_public_access_blocked())
            .send();
        let encryption = s3
            .put_bucket_encryption()
            .bucket(name)
            .server_side_encryption_configuration(sse_s3()?)
            .send();
        let tls = policy::merge(
            None,
            "",
            &[policy::deny_insecure_transport(partition(region), name)],
        )?;
        let tls = s3.put_bucket_policy().bucket(name).policy(tls).send();
        let (v, a, e, t) = tokio::join!(versioning, public_access, encryption, tls);
        v.context(|| format!("turning on versioning of the state bucket {name}"))?;
        a.context(|| format!("blocking public access to the state bucket {name}"))?;
        e.context(|| format!("turning on default encryption of the state bucket {name}"))?;
        t.context(|| format!("denying non-TLS requests to the state bucket {name}"))?;
        Ok(true)
    }

    /// Whether the bucket keeps versions.
    pub async fn versioned(&self) -> Result<bool, StepError> {
        let out = self
            .s3
            .get_bucket_versioning()
            .bucket(&self.bucket)
            .send()
            .await
            .context(|| format!("reading the versioning of the state bucket {}", self.bucket))?;
        Ok(out.status() == Some(&BucketVersioningStatus::Enabled))
    }
}

/// Who holds a lock: the lock object's document.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct LockHolder {
    pub user: String,
    pub host: String,
    pub pid: u32,
    pub command: String,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub version: String,
    /// Random, one per run: makes the lock's body this run's alone, so that a run whose
    /// PutObject answer never came (a Ctrl-C, a lost connection) can tell its own lock from
    /// another run's before deleting it. Absent in locks written before it existed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub run: String,
}

impl LockHolder {
    /// This process, running `command`, as cattube `version`.
    pub fn this_process(command: &str, version: &str) -> LockHolder {
        let env = |key: &str| std::env::var(key).ok().filter(|v| !v.is_empty());
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .or_else(|| env("HOSTNAME"))
            .unwrap_or_else(|| "unknown".into());
        let started_at = aws_smithy_types::DateTime::from(std::time::SystemTime::now())
            .fmt(aws_smithy_types::date_time::Format::DateTime)
            .unwrap_or_default();
        LockHolder {
            user: env("USER")
                .or_else(|| env("LOGNAME"))
                .unwrap_or_else(|| "unknown".into()),
            host,
            pid: std::process::id(),
            command: command.to_string(),
            started_at,
            version: version.to_string(),
            run: run_token(),
        }
    }

    /// "alice@ci-runner-7 (pid 4242, `cattube up`, cattube 0.1.0) since 2026-…Z".
    pub fn describe(&self) -> String {
        format!(
            "{}@{} (pid {}, `{}`, cattube {}) since {}",
            self.user, self.host, self.pid, self.command, self.version, self.started_at
        )
    }
}

/// 16 random bytes in hex (an empty token, should the system have no randomness, still
/// leaves the pid, host and start time to tell runs apart).
fn run_token() -> String {
    let mut bytes = [0u8; 16];
    match getrandom::getrandom(&mut bytes) {
        Ok(()) => hex::encode(bytes),
        Err(_) => String::new(),
    }
}

/// The state bucket's calls, for `cattube permissions` with a remote state: every command
/// reads the state (and needs `s3:ListBucket`, without which S3 answers a state not written
/// yet with 403 instead of 404); `status` reads the bucket's versioning; a command that
/// writes also creates and secures the bucket when it is missing (`up`) ([`RemoteObject::ensure_bucket`]),
/// takes and releases the lock object and writes the state.
pub mod grants {
    /// On the bucket, for a command that only reads (`upload`).
    pub const READ_BUCKET: &[&str] = &["s3:ListBucket"];
    /// On the bucket, for `status` (it warns when the bucket keeps no versions).
    pub const STATUS_BUCKET: &[&str] = &["s3:GetBucketVersioning", "s3:ListBucket"];
    /// On the bucket, for `down`: the bucket is there (the `up` that made the stack made it),
    /// so it is neither created nor secured.
    pub const DOWN_BUCKET: &[&str] = &["s3:ListBucket"];
    /// On the bucket, for `up`.
    pub const WRITE_BUCKET: &[&str] = &[
        "s3:CreateBucket",
        "s3:ListBucket",
        "s3:PutBucketOwnershipControls",
        "s3:PutBucketPolicy",
        "s3:PutBucketPublicAccessBlock",
        "s3:PutBucketVersioning",
        "s3:PutEncryptionConfiguration",
    ];
    /// On the state object and its lock, for a command that only reads.
    pub const READ_OBJECTS: &[&str] = &["s3:GetObject"];
    /// On the state object and its lock, for `up` and `down`.
    pub const WRITE_OBJECTS: &[&str] = &["s3:DeleteObject", "s3:GetObject", "s3:PutObject"];
    /// On the lock object, for `state unlock`: it reads the holder, then deletes it.
    pub const UNLOCK_OBJECT: &[&str] = &["s3:DeleteObject", "s3:GetObject"];
}
