//! `job_template::wanted`: the job.json → CreateJobTemplate rule, on the product's own code
//! (the e2e test `tests/lifecycle.rs` checks the body it really sends against botocore).

use crate::common;

use cattube_stages::context::JobFile;
use cattube_stages::job_template::wanted;
use common::{context, MockClients};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const DESTINATION: &str = "s3://cattube-destination-123456789012-eu-west-1/";
const QUEUE: &str = "arn:aws:mediaconvert:eu-west-1:123456789012:queues/cattube-queue";

fn wanted_for(document: Option<Value>) -> serde_json::Map<String, Value> {
    let mut ctx = context("eu-west-1", MockClients::default().build());
    if let Some(document) = document {
        ctx.settings.job = JobFile {
            source: "test.json".into(),
            document,
        };
    }
    wanted(&ctx)
}

fn keys(map: &serde_json::Map<String, Value>) -> Vec<&str> {
    let mut keys: Vec<&str> = map.keys().map(String::as_str).collect();
    keys.sort();
    keys
}

#[test]
fn the_builtin_job_becomes_a_template_on_the_stack_queue_and_bucket() {
    let template = wanted_for(None);
    // Queue, Role and UserMetadata of job.json are the function's; Queue is the stack's.
    assert_eq!(
        keys(&template),
        [
            "AccelerationSettings",
            "Description",
            "Priority",
            "Queue",
            "Settings",
            "StatusUpdateInterval"
        ]
    );
    assert_eq!(template["Queue"], QUEUE);
    let settings = &template["Settings"];
    for input in settings["Inputs"].as_array().unwrap() {
        assert!(input.get("FileInput").is_none(), "{input}");
        assert!(input.get("AudioSelectors").is_some(), "{input}");
    }
    for group in settings["OutputGroups"].as_array().unwrap() {
        assert_eq!(
            group["OutputGroupSettings"]["FileGroupSettings"]["Destination"],
            DESTINATION
        );
    }
}

#[test]
fn the_description_is_the_hash_of_the_rest() {
    let mut template = wanted_for(None);
    let description = template.remove("Description").unwrap();
    let hash = Sha256::digest(Value::Object(template).to_string().as_bytes());
    assert_eq!(description, format!("cattube sha256:{hash:x}"));
}

#[test]
fn every_group_kind_gets_the_destination_and_a_user_description_is_replaced() {
    let job = json!({
        "Queue": "arn:aws:mediaconvert:us-east-1:1:queues/Default",
        "Role": "arn:aws:iam::1:role/x",
        "UserMetadata": {"a": "b"},
        "Description": "mine",
        "Settings": {
            "Inputs": [{"FileInput": "s3://in/x.mp4", "TimecodeSource": "ZEROBASED"}, {"FileInput": "s3://in/y.mp4"}],
            "OutputGroups": [
                {"OutputGroupSettings": {"Type": "HLS_GROUP_SETTINGS", "HlsGroupSettings": {"SegmentLength": 6}}},
                {"OutputGroupSettings": {"Type": "CMAF_GROUP_SETTINGS"}},
                {"OutputGroupSettings": {"Type": "FILE_GROUP_SETTINGS", "FileGroupSettings": {"Destination": "s3://elsewhere/"}}}
            ]
        }
    });
    let template = wanted_for(Some(job.clone()));
    assert_eq!(keys(&template), ["Description", "Queue", "Settings"]);
    assert!(template["Description"]
        .as_str()
        .unwrap()
        .starts_with("cattube sha256:"));
    let settings = &template["Settings"];
    assert_eq!(
        settings["Inputs"],
        json!([{"TimecodeSource": "ZEROBASED"}, {}])
    );
    let groups = settings["OutputGroups"].as_array().unwrap();
    assert_eq!(
        groups[0]["OutputGroupSettings"]["HlsGroupSettings"],
        json!({"SegmentLength": 6, "Destination": DESTINATION})
    );
    assert_eq!(
        groups[1]["OutputGroupSettings"]["CmafGroupSettings"]["Destination"],
        DESTINATION
    );
    assert_eq!(
        groups[2]["OutputGroupSettings"]["FileGroupSettings"]["Destination"],
        DESTINATION
    );

    // Any change to the job changes the hash; the same job gives the same one.
    assert_eq!(wanted_for(Some(job.clone())), template);
    let mut changed = job;
    changed["Settings"]["OutputGroups"][0]["OutputGroupSettings"]["HlsGroupSettings"]
        ["SegmentLength"] = json!(10);
    assert_ne!(
        wanted_for(Some(changed))["Description"],
        template["Description"]
    );
}
