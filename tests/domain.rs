//! `[domain]` (issue 26, item 1) against moto's server, through the built binary: the
//! certificate requested in us-east-1 for a stack in ap-southeast-2, its DNS validation, the
//! distribution serving the names with it (sni-only, TLSv1.2_2021, HTTP/2 and 3), the alias
//! records, and a `down` that removes exactly what the stack wrote.
//!
//! moto issues a certificate 60 s after the request whatever DNS says; the test launcher
//! (`tests/support/moto_server.py`) issues it only once its validation CNAMEs resolve (in a
//! Route 53 zone of the emulator, or published by the test as a DNS provider outside Route
//! 53), refuses to delete a certificate CloudFront serves, and makes CloudFront refuse an
//! unissued certificate or an alias another distribution has, as AWS does.

use crate::support::distribution::{distribution_config, edit_distribution};
use crate::support::{
    assert_drifted, down_leaves_nothing, has_stack_tag, leftovers, resource, stack_clients,
    Emulators,
};
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use cattube_stages::Clients;

const REGION: &str = "ap-southeast-2";
const DOMAIN: &str = "videos.example.com";

fn config(extra: &str) -> String {
    format!("[domain]\nname = \"{DOMAIN}\"\n{extra}")
}

async fn zone(clients: &Clients, name: &str) -> String {
    let out = clients
        .route53
        .create_hosted_zone()
        .name(name)
        .caller_reference(format!("test-{name}"))
        .send()
        .await
        .unwrap();
    out.hosted_zone().unwrap().id().to_string()
}

/// A record someone else wrote in the zone: `down` must leave it.
async fn foreign_record(clients: &Clients, zone: &str) {
    let record = ResourceRecordSet::builder()
        .name("www.example.com.")
        .r#type(RrType::A)
        .ttl(60)
        .resource_records(
            ResourceRecord::builder()
                .value("192.0.2.10")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    clients
        .route53
        .change_resource_record_sets()
        .hosted_zone_id(zone)
        .change_batch(
            ChangeBatch::builder()
                .changes(
                    Change::builder()
                        .action(ChangeAction::Create)
                        .resource_record_set(record)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

/// Every record of the zone but its SOA and NS, `TYPE name target`, sorted.
async fn records(clients: &Clients, zone: &str) -> Vec<String> {
    let out = clients
        .route53
        .list_resource_record_sets()
        .hosted_zone_id(zone)
        .send()
        .await
        .unwrap();
    let mut all: Vec<String> = out
        .resource_record_sets()
        .iter()
        .filter(|r| !matches!(r.r#type(), RrType::Soa | RrType::Ns))
        .map(|r| {
            let target = match r.alias_target() {
                Some(a) => format!("alias {} {}", a.hosted_zone_id(), a.dns_name()),
                None => r
                    .resource_records()
                    .iter()
                    .map(|v| v.value().to_string())
                    .collect::<Vec<_>>()
                    .join(","),
            };
            format!("{} {} {target}", r.r#type(), r.name())
        })
        .collect();
    all.sort();
    all
}

/// The account's certificates in us-east-1 (any status), `(arn, status)`.
async fn certificates(clients: &Clients) -> Vec<(String, String)> {
    let out = clients.acm.list_certificates().send().await.unwrap();
    let mut all = Vec::new();
    for summary in out.certificate_summary_list() {
        let arn = summary.certificate_arn().unwrap().to_string();
        let detail = clients
            .acm
            .describe_certificate()
            .certificate_arn(&arn)
            .send()
            .await
            .unwrap();
        let status = detail
            .certificate()
            .unwrap()
            .status()
            .unwrap()
            .as_str()
            .to_string();
        all.push((arn, status));
    }
    all
}

/// The distribution's names, certificate ARN, SSL support method, minimum protocol and
/// HTTP version.
async fn served(clients: &Clients, id: &str) -> (Vec<String>, String, String, String, String) {
    let config = distribution_config(&clients.cloudfront, id).await;
    let cert = config.viewer_certificate().unwrap();
    (
        config
            .aliases()
            .map(|a| a.items().to_vec())
            .unwrap_or_default(),
        cert.acm_certificate_arn().unwrap_or_default().to_string(),
        cert.ssl_support_method()
            .map(|m| m.as_str().to_string())
            .unwrap_or_default(),
        cert.minimum_protocol_version()
            .map(|m| m.as_str().to_string())
            .unwrap_or_default(),
        config
            .http_version()
            .map(|v| v.as_str().to_string())
            .unwrap_or_default(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_domain_with_a_hosted_zone_is_served_and_removed_exactly() {
    let emulators = Emulators::start();
    let clients = stack_clients(&emulators, REGION).await;
    let zone = zone(&clients, "example.com").await;
    foreign_record(&clients, &zone).await;
    let before = records(&clients, &zone).await;
    let sandbox = emulators.sandbox(REGION);
    sandbox.write("cattube.toml", &config(""));

    let doc = sandbox.run().args(["up"]).expect_code(0).json().doc;
    let certificate = resource(&doc, "certificate");
    assert_eq!(certificate["action"], "create", "{certificate}");
    let arn = certificate["arn"].as_str().unwrap().to_string();
    // CloudFront takes certificates from us-east-1 only, whatever the stack's region.
    assert!(arn.starts_with("arn:aws:acm:us-east-1:"), "{arn}");
    assert_eq!(doc["outputs"]["certificate_status"], "ISSUED", "{doc}");
    assert_eq!(
        certificates(&clients).await,
        vec![(arn.clone(), "ISSUED".into())]
    );
    let tags = clients
        .acm
        .list_tags_for_certificate()
        .certificate_arn(&arn)
        .send()
        .await
        .unwrap();
    let pairs = tags.tags().iter().map(|t| (t.key(), t.value()));
    assert!(has_stack_tag(pairs), "{tags:?}");

    let id = doc["outputs"]["distribution_id"]
        .as_str()
        .unwrap()
        .to_string();
    let cloudfront_domain = doc["outputs"]["distribution_domain"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        served(&clients, &id).await,
        (
            vec![DOMAIN.to_string()],
            arn.clone(),
            "sni-only".into(),
            "TLSv1.2_2021".into(),
            "http2and3".into()
        )
    );
    // Every URL cattube prints is on the stack's own domain once it is attached.
    assert_eq!(doc["outputs"]["custom_domain"], DOMAIN, "{doc}");
    assert_eq!(
        doc["outputs"]["player_url"].as_str().unwrap(),
        format!("https://{DOMAIN}/"),
        "{doc}"
    );

    let written = records(&clients, &zone).await;
    let alias = format!("alias Z2FDTNDATAQYW2 {cloudfront_domain}.");
    for kind in ["A", "AAAA"] {
        let line = format!("{kind} {DOMAIN}. {alias}");
        assert!(written.contains(&line), "{line} not in {written:#?}");
    }
    assert!(
        written.iter().any(|r| r.starts_with("CNAME _")
            && r.contains(&format!(".{DOMAIN}. "))
            && r.ends_with(".acm-validations.aws.")),
        "no validation record in {written:#?}"
    );
    assert_eq!(written.len(), before.len() + 3, "{written:#?}");

    // Converged: one round of reads, no write; status is all ok.
    sandbox.run().args(["up"]).expect_read_only().json();
    sandbox.run().args(["status"]).expect_code(0).json();

    // Drift: the names detached from the distribution are put back.
    edit_distribution(&clients.cloudfront, &id, |detached| {
        detached.aliases = Some(
            aws_sdk_cloudfront::types::Aliases::builder()
                .quantity(0)
                .build()
                .unwrap(),
        );
        detached.viewer_certificate = Some(
            aws_sdk_cloudfront::types::ViewerCertificate::builder()
                .cloud_front_default_certificate(true)
                .build(),
        );
    })
    .await;
    let status = sandbox.run().args(["status"]).expect_code(3).json().doc;
    assert_drifted(&status, "distribution", DOMAIN);
    sandbox.run().args(["up"]).expect_code(0).json();
    assert_eq!(served(&clients, &id).await.0, vec![DOMAIN.to_string()]);

    sandbox.run().args(["down", "--yes"]).expect_code(0).json();
    assert_eq!(
        records(&clients, &zone).await,
        before,
        "down left or took records"
    );
    assert!(
        certificates(&clients).await.is_empty(),
        "certificate left behind"
    );
    assert_eq!(leftovers(&emulators, REGION).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_domain_without_a_zone_prints_its_records_and_attaches_once_validated() {
    let emulators = Emulators::start();
    let clients = stack_clients(&emulators, REGION).await;
    let sandbox = emulators.sandbox(REGION);
    sandbox.write("cattube.toml", &config(""));

    let ran = sandbox.run().args(["up"]).expect_code(0).output();
    let printed: Vec<&str> = ran
        .stdout
        .split([';', '\n'])
        .filter_map(|part| part.trim().split_once("CNAME "))
        .map(|(_, record)| record.trim())
        .collect();
    let record = printed
        .iter()
        .find(|r| r.contains(".acm-validations.aws"))
        .unwrap_or_else(|| panic!("no validation record printed: {}", ran.text()));
    let (name, value) = record.split_once(" -> ").unwrap();
    let value = value.split_whitespace().next().unwrap();
    assert!(
        ran.stdout.contains("stays on its CloudFront domain"),
        "{}",
        ran.text()
    );

    let doc = sandbox.run().args(["status"]).expect_code(3).json().doc;
    let certificate = resource(&doc, "certificate");
    assert_eq!(certificate["status"], "drifted", "{certificate}");
    assert!(
        certificate["drift"].to_string().contains(name),
        "{certificate}"
    );
    let id = doc["outputs"]["distribution_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (aliases, cert, ..) = served(&clients, &id).await;
    assert!(aliases.is_empty() && cert.is_empty(), "{aliases:?} {cert}");
    assert!(
        doc["outputs"]
            .get("custom_domain")
            .is_none_or(|v| v.is_null()),
        "{doc}"
    );

    // The user creates the record at their DNS provider; ACM validates; the next `up`
    // attaches the certificate.
    let published = std::process::Command::new("curl")
        .args(["-sf", "-X", "POST", "--data", value])
        .arg(format!("{}/_cattube/public-dns/{name}", emulators.moto.url))
        .status()
        .unwrap();
    assert!(published.success());
    let doc = sandbox.run().args(["up"]).expect_code(0).json().doc;
    assert_eq!(resource(&doc, "distribution")["action"], "update", "{doc}");
    assert_eq!(doc["outputs"]["custom_domain"], DOMAIN, "{doc}");
    let (aliases, cert, ..) = served(&clients, &id).await;
    assert_eq!(aliases, vec![DOMAIN.to_string()]);
    assert!(cert.starts_with("arn:aws:acm:us-east-1:"), "{cert}");
    sandbox.run().args(["status"]).expect_code(0).json();

    down_leaves_nothing(&emulators, &sandbox).await;
    assert!(
        certificates(&clients).await.is_empty(),
        "certificate left behind"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_domain_is_refused_before_any_call() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    for (toml, key) in [
        ("[domain]\nname = \"not a domain\"\n", "[domain] name"),
        (
            "[domain]\nname = \"videos.example.com\"\naliases = [\"videos.example.com\"]\n",
            "[domain] aliases",
        ),
        (
            "[domain]\nname = \"videos.example.com\"\nzone-id = \"../x\"\n",
            "[domain] zone-id",
        ),
        ("[domain]\naliases = [\"a.example.com\"]\n", "name"),
        (
            "[domain]\nname = \"videos.example.com\"\nzone = \"Z1\"\n",
            "zone",
        ),
    ] {
        sandbox.write("cattube.toml", toml);
        let ran = sandbox.run().args(["up"]).expect_code(2).output();
        assert!(ran.requests.is_empty(), "{toml}: {:?}", ran.requests);
        let line = ran.stderr.trim();
        assert_eq!(line.lines().count(), 1, "{toml}: {line}");
        assert!(line.contains(key), "{toml}: {line}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_issued_certificate_is_reused_and_a_name_in_use_is_refused() {
    let emulators = Emulators::start();
    let clients = stack_clients(&emulators, REGION).await;
    let zone = zone(&clients, "example.com").await;
    // The account's own certificate for the name, issued before cattube runs.
    let theirs = clients
        .acm
        .request_certificate()
        .domain_name(DOMAIN)
        .validation_method(aws_sdk_acm::types::ValidationMethod::Dns)
        .send()
        .await
        .unwrap()
        .certificate_arn()
        .unwrap()
        .to_string();
    let detail = clients
        .acm
        .describe_certificate()
        .certificate_arn(&theirs)
        .send()
        .await
        .unwrap();
    let record = detail.certificate().unwrap().domain_validation_options()[0]
        .resource_record()
        .unwrap()
        .clone();
    let published = std::process::Command::new("curl")
        .args(["-sf", "-X", "POST", "--data", record.value()])
        .arg(format!(
            "{}/_cattube/public-dns/{}",
            emulators.moto.url,
            record.name()
        ))
        .status()
        .unwrap();
    assert!(published.success());
    assert_eq!(
        certificates(&clients).await,
        vec![(theirs.clone(), "ISSUED".into())]
    );

    let sandbox = emulators.sandbox(REGION);
    sandbox.write("cattube.toml", &config(""));
    let doc = sandbox.run().args(["up"]).expect_code(0).json().doc;
    let certificate = resource(&doc, "certificate");
    assert_eq!(certificate["arn"], theirs.as_str(), "{certificate}");
    assert_eq!(certificate["action"], "none", "{certificate}");
    let id = doc["outputs"]["distribution_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(served(&clients, &id).await.1, theirs);

    // A second stack asking for the same name: CloudFront refuses it, and so does up.
    let other = emulators.sandbox(REGION);
    other.write("cattube.toml", &config(""));
    let ran = other
        .run()
        .args(["--stack", "other", "up"])
        .expect_code(1)
        .output();
    assert!(ran.stderr.contains("CNAMEAlreadyExists"), "{}", ran.text());

    sandbox.run().args(["down", "--yes"]).expect_code(0).json();
    // Adopted: the account's certificate outlives the stack.
    assert_eq!(
        certificates(&clients).await,
        vec![(theirs, "ISSUED".into())]
    );
    let left = records(&clients, &zone).await;
    assert!(left.is_empty(), "down left records: {left:#?}");
}
