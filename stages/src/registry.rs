//! The registry: every resource of the stack, one line each, and everything derived from
//! that list (names and their kinds, `[names]` keys, the JSON document's `outputs` keys, the
//! graph's input; the commands' policy is [`crate::permissions`]'s, over a registry too).
//! The session holds one; a test adds a resource of its own with [`Registry::with`].

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::naming::NameKind;
use crate::resources::*;
use crate::Step;

/// The stack's resources, in the tutorial's order (the graph sorts by `depends_on`).
#[derive(Clone)]
pub struct Registry {
    steps: Vec<Arc<dyn Step>>,
}

impl Registry {
    /// Every resource cattube builds. Order does not matter (the graph sorts by
    /// `depends_on`); the tutorial's order is kept for the reader.
    pub fn standard() -> Registry {
        let steps: Vec<Arc<dyn Step>> = vec![
            Arc::new(source_bucket::SourceBucket),
            Arc::new(destination_bucket::DestinationBucket),
            Arc::new(queue::Queue),
            Arc::new(job_template::JobTemplate),
            Arc::new(mediaconvert_role::MediaConvertRole),
            Arc::new(converter_role::ConverterRole),
            Arc::new(function_log_group::FunctionLogGroup),
            Arc::new(converter_function::ConverterFunction),
            Arc::new(failures_bucket::FailuresBucket),
            Arc::new(failure_destination::FailureDestination),
            Arc::new(origin_access_control::OriginAccessControl),
            Arc::new(certificate::Certificate),
            Arc::new(signing_secret::SigningSecret),
            Arc::new(public_keys::PublicKeys),
            Arc::new(key_group::KeyGroup),
            Arc::new(distribution::Distribution),
            Arc::new(domain_records::DomainRecords),
            Arc::new(destination_bucket_policy::DestinationBucketPolicy),
            Arc::new(lambda_permission::S3_INVOKE),
            Arc::new(source_notification::SourceNotification),
            Arc::new(player_page::PlayerPage),
            Arc::new(job_events_rule::JobEventsRule),
            Arc::new(lambda_permission::JOB_EVENTS),
            Arc::new(notification_topic::NotificationTopic),
            Arc::new(source_lifecycle::SOURCE_LIFECYCLE),
            Arc::new(source_cors::SOURCE_CORS),
        ];
        Registry::of(steps)
    }

    /// Exactly these steps, in this order (the graph's tests build lists of their own).
    pub fn of(steps: impl IntoIterator<Item = Arc<dyn Step>>) -> Registry {
        Registry {
            steps: steps.into_iter().collect(),
        }
    }

    /// This registry and one more resource, last.
    pub fn with(mut self, extra: impl Step + 'static) -> Registry {
        self.steps.push(Arc::new(extra));
        self
    }

    pub fn steps(&self) -> &[Arc<dyn Step>] {
        &self.steps
    }

    /// Every resource id that has a name, its kind, and its default (`{stack}`, `{account}`,
    /// `{region}` are filled in).
    pub fn named(&self) -> Vec<(&'static str, NameKind, &'static str)> {
        self.steps
            .iter()
            .filter_map(|step| {
                let spec = step.spec();
                spec.name
                    .map(|rule| (spec.id.as_str(), rule.kind, rule.default))
            })
            .collect()
    }

    /// The kind of a named resource id, or `None` for an id that has no name.
    pub fn kind_of(&self, id: &str) -> Option<NameKind> {
        self.named()
            .into_iter()
            .find(|(named, _, _)| *named == id)
            .map(|(_, kind, _)| kind)
    }

    /// The name of every named resource: the user's override or the default.
    pub fn resolve_names(
        &self,
        stack: &str,
        account: &str,
        region: &str,
        overrides: &BTreeMap<String, String>,
    ) -> BTreeMap<&'static str, String> {
        self.named()
            .into_iter()
            .map(|(id, _, default)| {
                let name = overrides.get(id).cloned().unwrap_or_else(|| {
                    default
                        .replace("{stack}", stack)
                        .replace("{account}", account)
                        .replace("{region}", region)
                });
                (id, name)
            })
            .collect()
    }

    /// The JSON document's `outputs` keys, in registry order.
    pub fn output_keys(&self) -> Vec<&'static str> {
        self.steps
            .iter()
            .flat_map(|step| step.spec().outputs.iter().copied())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::naming::validate_name;

    #[test]
    fn longest_default_bucket_names_are_valid() {
        let names = Registry::standard().resolve_names(
            &"a".repeat(20),
            "123456789012",
            "ap-southeast-2",
            &BTreeMap::new(),
        );
        for (id, kind, _) in Registry::standard().named() {
            assert_eq!(
                validate_name(kind, &names[id]),
                Ok(()),
                "{id}: {}",
                names[id]
            );
        }
    }

    #[test]
    fn overrides_win() {
        let overrides = BTreeMap::from([("queue".to_string(), "catqueue".to_string())]);
        let names = Registry::standard().resolve_names("cattube", "1", "us-east-1", &overrides);
        assert_eq!(names["queue"], "catqueue");
        assert_eq!(names["source-bucket"], "cattube-source-1-us-east-1");
    }
}
