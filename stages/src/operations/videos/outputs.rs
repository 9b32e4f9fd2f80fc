//! What the job template writes for a source key, named the way MediaConvert names files
//! and the converter function passes the key: in the key's folder, with its base name.

use aws_sdk_mediaconvert::types::{JobTemplateSettings, Output as McOutput, OutputGroupType};

/// What one output of the job template adds to the base name: `-hd.mp4`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputName {
    pub suffix: String,
}

/// What every output key of a source key starts with: its folder and base name (the
/// prefix a private stack's signed cookies grant, [`crate::signed::video_resource`]).
pub fn video_prefix(key: &str) -> String {
    output_keys(
        key,
        &[OutputName {
            suffix: String::new(),
        }],
    )
    .pop()
    .unwrap_or_default()
}

/// The output keys of a source key: its folder, its base name (the last segment without its
/// extension, as the converter function passes it to MediaConvert) and each output's suffix.
pub fn output_keys(key: &str, outputs: &[OutputName]) -> Vec<String> {
    let (folder, name) = match key.rsplit_once('/') {
        Some((folder, name)) => (format!("{folder}/"), name),
        None => (String::new(), key),
    };
    // posixpath.splitext: a leading dot does not start an extension (".mp4" stays ".mp4").
    let base = match name.rfind('.') {
        Some(dot) if name[..dot].chars().any(|c| c != '.') => &name[..dot],
        _ => name,
    };
    outputs
        .iter()
        .map(|o| format!("{folder}{base}{}", o.suffix))
        .collect()
}

/// The default extension MediaConvert gives a file output in `container`, when the output
/// sets no `Extension`. RAW outputs are named after their codec.
fn container_extension(container: &str, output: &McOutput) -> String {
    match container {
        "MP4" => "mp4".into(),
        "MOV" => "mov".into(),
        "MKV" => "mkv".into(),
        "WEBM" => "webm".into(),
        "M2TS" => "m2ts".into(),
        "M3U8" => "m3u8".into(),
        "MPD" => "mp4".into(),
        "CMFC" => "mp4".into(),
        "F4V" => "f4v".into(),
        "MXF" => "mxf".into(),
        "GIF" => "gif".into(),
        "OGG" => "ogg".into(),
        "RAW" => raw_extension(output),
        other => other.to_lowercase(),
    }
}

fn raw_extension(output: &McOutput) -> String {
    // The video codec names the file, else the first audio codec, else the first caption's.
    let video =
        (output.video_description()).and_then(|v| Some(v.codec_settings()?.codec()?.as_str()));
    let audio = (output.audio_descriptions().first())
        .and_then(|a| Some(a.codec_settings()?.codec()?.as_str()));
    let caption = (output.caption_descriptions().first())
        .and_then(|c| Some(c.destination_settings()?.destination_type()?.as_str()));
    match (video, audio, caption) {
        (Some("H_264"), _, _) => "h264".into(),
        (Some("H_265"), _, _) => "h265".into(),
        (Some("MPEG2"), _, _) => "m2v".into(),
        (Some("FRAME_CAPTURE"), _, _) => "jpg".into(),
        (Some(codec), _, _) => codec.to_lowercase().replace('_', ""),
        (None, Some("VORBIS"), _) => "ogg".into(),
        (None, Some("WAV"), _) => "wav".into(),
        (None, Some(codec), _) => codec.to_lowercase(),
        (None, None, Some("WEBVTT")) => "vtt".into(),
        (None, None, Some(caption)) => caption.to_lowercase(),
        (None, None, None) => "raw".into(),
    }
}

/// The suffixes of every output the job template writes, in its order: each file group
/// output's name modifier and extension; the manifest of each streaming group (HLS `.m3u8`,
/// DASH `.mpd`, CMAF both, Smooth `.ism`) carrying the group's base name.
pub fn output_names(settings: &JobTemplateSettings) -> Vec<OutputName> {
    let mut names = Vec::new();
    for group in settings.output_groups() {
        let kind = group
            .output_group_settings()
            .and_then(|s| s.r#type())
            .cloned();
        match kind {
            Some(OutputGroupType::FileGroupSettings) => {
                for output in group.outputs() {
                    let extension = match output.extension().filter(|e| !e.is_empty()) {
                        Some(extension) => extension.trim_start_matches('.').to_string(),
                        None => {
                            let container = output
                                .container_settings()
                                .and_then(|c| c.container())
                                .map(|c| c.as_str())
                                .unwrap_or("MP4");
                            container_extension(container, output)
                        }
                    };
                    names.push(OutputName {
                        suffix: format!(
                            "{}.{extension}",
                            output.name_modifier().unwrap_or_default()
                        ),
                    });
                }
            }
            Some(OutputGroupType::HlsGroupSettings) => names.push(OutputName {
                suffix: ".m3u8".into(),
            }),
            Some(OutputGroupType::DashIsoGroupSettings) => names.push(OutputName {
                suffix: ".mpd".into(),
            }),
            Some(OutputGroupType::CmafGroupSettings) => {
                names.push(OutputName {
                    suffix: ".m3u8".into(),
                });
                names.push(OutputName {
                    suffix: ".mpd".into(),
                });
            }
            Some(OutputGroupType::MsSmoothGroupSettings) => names.push(OutputName {
                suffix: ".ism".into(),
            }),
            _ => {}
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    use aws_sdk_mediaconvert::types::{
        ContainerSettings, ContainerType, OutputGroup, OutputGroupSettings,
    };

    fn output(modifier: &str, container: ContainerType, extension: Option<&str>) -> McOutput {
        McOutput::builder()
            .name_modifier(modifier)
            .container_settings(ContainerSettings::builder().container(container).build())
            .set_extension(extension.map(str::to_string))
            .build()
    }

    fn settings(groups: Vec<(OutputGroupType, Vec<McOutput>)>) -> JobTemplateSettings {
        JobTemplateSettings::builder()
            .set_output_groups(Some(
                groups
                    .into_iter()
                    .map(|(kind, outputs)| {
                        OutputGroup::builder()
                            .output_group_settings(
                                OutputGroupSettings::builder().r#type(kind).build(),
                            )
                            .set_outputs(Some(outputs))
                            .build()
                    })
                    .collect(),
            ))
            .build()
    }

    #[test]
    fn outputs_sit_in_the_key_folder_with_its_base_name() {
        let outputs = [
            OutputName {
                suffix: "-hd.mp4".into(),
            },
            OutputName {
                suffix: "-sd.mp4".into(),
            },
        ];
        assert_eq!(
            output_keys("cats/tabby cat.mp4", &outputs),
            ["cats/tabby cat-hd.mp4", "cats/tabby cat-sd.mp4"]
        );
        assert_eq!(output_keys("a/b/c.d.mov", &outputs)[0], "a/b/c.d-hd.mp4");
        assert_eq!(output_keys("noext", &outputs)[0], "noext-hd.mp4");
        assert_eq!(output_keys(".mp4", &outputs)[0], ".mp4-hd.mp4");
    }

    #[test]
    fn names_follow_the_template() {
        let names = output_names(&settings(vec![
            (
                OutputGroupType::FileGroupSettings,
                vec![
                    output("-hd", ContainerType::Mp4, None),
                    output("_small", ContainerType::Mov, None),
                    output("-ts", ContainerType::M2Ts, None),
                    output("-x", ContainerType::Mp4, Some("m4v")),
                ],
            ),
            (OutputGroupType::HlsGroupSettings, vec![]),
        ]));
        let suffixes: Vec<&str> = names.iter().map(|n| n.suffix.as_str()).collect();
        assert_eq!(
            suffixes,
            ["-hd.mp4", "_small.mov", "-ts.m2ts", "-x.m4v", ".m3u8"]
        );
    }

    #[test]
    fn the_default_job_json_gives_hd_and_sd_mp4() {
        // The shipped job.json, as MediaConvert's typed settings would carry it.
        let doc: serde_json::Value =
            serde_json::from_str(crate::context::DEFAULT_JOB_JSON).unwrap();
        let names = output_names(&typed_settings(&doc));
        assert_eq!(
            output_keys("cats/tabby cat.mp4", &names),
            ["cats/tabby cat-hd.mp4", "cats/tabby cat-sd.mp4"]
        );
    }

    /// A job document's settings as MediaConvert's typed settings carry them (group types,
    /// containers and name modifiers, which is all the names depend on).
    fn typed_settings(doc: &serde_json::Value) -> JobTemplateSettings {
        let groups = doc["Settings"]["OutputGroups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                let kind = g["OutputGroupSettings"]["Type"].as_str().unwrap();
                let outputs = g["Outputs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|o| {
                        output(
                            o["NameModifier"].as_str().unwrap(),
                            ContainerType::from(
                                o["ContainerSettings"]["Container"].as_str().unwrap(),
                            ),
                            None,
                        )
                    })
                    .collect();
                (OutputGroupType::from(kind), outputs)
            })
            .collect();
        settings(groups)
    }

    /// A profile's job document and its typed settings.
    fn profile_settings(name: &str) -> (serde_json::Value, JobTemplateSettings) {
        let text = crate::context::PROFILES
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap()
            .1;
        let doc: serde_json::Value = serde_json::from_str(text).unwrap();
        let settings = typed_settings(&doc);
        (doc, settings)
    }

    /// (codec, width, height, rate control) of every output of a profile.
    fn videos(doc: &serde_json::Value) -> Vec<(String, u64, u64, String)> {
        let mut found = Vec::new();
        for group in doc["Settings"]["OutputGroups"].as_array().unwrap() {
            for o in group["Outputs"].as_array().unwrap() {
                let codec = &o["VideoDescription"]["CodecSettings"];
                let name = codec["Codec"].as_str().unwrap().to_string();
                let member = match name.as_str() {
                    "H_264" => "H264Settings",
                    "H_265" => "H265Settings",
                    _ => "Av1Settings",
                };
                found.push((
                    name,
                    o["VideoDescription"]["Width"].as_u64().unwrap_or(0),
                    o["VideoDescription"]["Height"].as_u64().unwrap_or(0),
                    codec[member]["RateControlMode"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                ));
                let audio = &o["AudioDescriptions"][0]["CodecSettings"]["Codec"];
                assert_eq!(audio, "AAC", "every output has AAC audio");
            }
        }
        found
    }

    #[test]
    fn each_profile_names_its_outputs() {
        for (profile, expected) in [
            (
                "tutorial",
                vec!["cats/tabby cat-hd.mp4", "cats/tabby cat-sd.mp4"],
            ),
            (
                "web",
                vec![
                    "cats/tabby cat-1080p.mp4",
                    "cats/tabby cat-720p.mp4",
                    "cats/tabby cat-144p.mp4",
                ],
            ),
            // The master playlist only: `url` names what a player opens.
            ("hls", vec!["cats/tabby cat.m3u8"]),
        ] {
            let (_, settings) = profile_settings(profile);
            assert_eq!(
                output_keys("cats/tabby cat.mp4", &output_names(&settings)),
                expected,
                "{profile}"
            );
        }
    }

    #[test]
    fn each_profile_has_the_codecs_it_promises() {
        let (tutorial, _) = profile_settings("tutorial");
        let hevc = &tutorial["Settings"]["OutputGroups"][0]["Outputs"][0]["VideoDescription"]
            ["CodecSettings"]["H265Settings"];
        assert_eq!(hevc["WriteMp4PackagingType"], "HVC1", "Safari needs hvc1");
        assert_eq!(videos(&tutorial)[1].0, "AV1");

        let (web, _) = profile_settings("web");
        let s = |v: &str| v.to_string();
        assert_eq!(
            videos(&web),
            [
                (s("H_264"), 1920, 1080, s("QVBR")),
                (s("H_264"), 1280, 720, s("QVBR")),
                (s("AV1"), 256, 144, s("QVBR")),
            ]
        );
        let (hls, _) = profile_settings("hls");
        let groups = hls["Settings"]["OutputGroups"].as_array().unwrap();
        assert_eq!(groups.len(), 1, "one HLS output group");
        assert_eq!(
            groups[0]["OutputGroupSettings"]["Type"],
            "HLS_GROUP_SETTINGS"
        );
        assert_eq!(
            videos(&hls),
            [
                (s("H_264"), 1920, 1080, s("QVBR")),
                (s("H_264"), 1280, 720, s("QVBR")),
                (s("H_264"), 854, 480, s("QVBR")),
                (s("H_264"), 640, 360, s("QVBR")),
            ]
        );
        // The codecs string of each output follows from its profile and level.
        for doc in [&web, &hls] {
            for group in doc["Settings"]["OutputGroups"].as_array().unwrap() {
                for o in group["Outputs"].as_array().unwrap() {
                    let h264 = &o["VideoDescription"]["CodecSettings"]["H264Settings"];
                    if !h264.is_null() {
                        assert_eq!(h264["CodecProfile"], "HIGH");
                        assert!(h264["CodecLevel"].as_str().unwrap().starts_with("LEVEL_"));
                    }
                }
            }
        }
    }
}
