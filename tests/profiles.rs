//! `[job] profile`: each built-in profile registered through `up` as the stack's job
//! template, the CreateJobTemplate body cattube really sent validated against MediaConvert's
//! model (botocore's, by the stand-in), and `cattube url` naming that profile's outputs (the
//! master playlist for `hls`). `[job] template` wins over `profile`.

use crate::support;

use support::names::REGION;
use support::{sent_template, Emulators};

fn codecs(template: &serde_json::Value) -> Vec<String> {
    template["settings"]["outputGroups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["outputs"].as_array().unwrap().iter())
        .map(|o| {
            o["videoDescription"]["codecSettings"]["codec"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[test]
fn each_profile_is_a_valid_template_and_url_names_its_outputs() {
    let domain_free = |stdout: &str| -> Vec<String> {
        stdout
            .lines()
            .map(|l| l.split_once(".cloudfront.net/").unwrap().1.to_string())
            .collect()
    };
    for (toml, expected_codecs, expected_urls) in [
        (
            None,
            vec!["H_265", "AV1"],
            vec!["cats/tabby%20cat-hd.mp4", "cats/tabby%20cat-sd.mp4"],
        ),
        (
            Some("[job]\nprofile = \"web\"\n"),
            vec!["H_264", "H_264", "AV1"],
            vec![
                "cats/tabby%20cat-1080p.mp4",
                "cats/tabby%20cat-720p.mp4",
                "cats/tabby%20cat-144p.mp4",
            ],
        ),
        (
            Some("[job]\nprofile = \"hls\"\n"),
            vec!["H_264", "H_264", "H_264", "H_264"],
            vec!["cats/tabby%20cat.m3u8"],
        ),
        // A template of one's own wins over the profile.
        (
            Some("[job]\nprofile = \"hls\"\ntemplate = \"mine.json\"\n"),
            vec!["H_265", "AV1"],
            vec!["cats/tabby%20cat-hd.mp4", "cats/tabby%20cat-sd.mp4"],
        ),
    ] {
        let emulators = Emulators::start();
        let sandbox = emulators.sandbox(REGION);
        if let Some(toml) = toml {
            sandbox.write("cattube.toml", toml);
        }
        sandbox.write("mine.json", include_str!("../lambda-artifact/job.json"));
        sandbox.run().args(["up"]).expect_code(0).output();
        let template = sent_template(&emulators.standin.url);
        assert_eq!(codecs(&template), expected_codecs, "{toml:?}");
        let out = sandbox
            .run()
            .args(["url", "cats/tabby cat.mp4"])
            .expect_code(0)
            .output();
        assert_eq!(domain_free(&out.stdout), expected_urls, "{toml:?}");
    }
}
