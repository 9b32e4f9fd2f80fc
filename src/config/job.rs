//! The job `up` gives MediaConvert: a built-in profile or the user's job.json.

use std::path::Path;

use cattube_stages::JobFile;
use serde_json::Value;

use super::file::{read_beside, JobConfig};
use crate::error::UsageError;

/// `[job]`: the user's `template` (relative to the configuration file) wins over `profile`,
/// which is checked all the same: a typo is never silently ignored.
pub fn resolve(
    job: &JobConfig,
    file_path: Option<&Path>,
    origin: &dyn Fn(&str) -> String,
) -> Result<JobFile, UsageError> {
    let name = job.profile.as_deref().unwrap_or("tutorial");
    let profile = JobFile::profile(name).ok_or_else(|| {
        let allowed: Vec<String> = cattube_stages::context::PROFILES
            .iter()
            .map(|(n, _)| format!("\"{n}\""))
            .collect();
        UsageError::new(format!(
            "{}: '{name}' is not a job profile; allowed: {}",
            origin("job.profile"),
            allowed.join(", ")
        ))
    })?;
    let Some(template) = &job.template else {
        return Ok(profile);
    };
    let (resolved, text) = read_beside(file_path, template, "job.template", origin)?;
    let source = resolved.display().to_string();
    let document = parse_job(&text)
        .map_err(|e| UsageError::new(format!("{source} ({}): {e}", origin("job.template"))))?;
    Ok(JobFile { source, document })
}

/// OutputGroupSettings.Type values whose group has a Destination the function can set.
const DESTINATION_GROUPS: &[&str] = &[
    "FILE_GROUP_SETTINGS",
    "HLS_GROUP_SETTINGS",
    "DASH_ISO_GROUP_SETTINGS",
    "CMAF_GROUP_SETTINGS",
    "MS_SMOOTH_GROUP_SETTINGS",
];

/// A job.json (the tutorial's format: CreateJob's parameters) with the structure a job needs:
/// `Settings` with at least one output group, each with outputs and a settings `Type`, one of
/// them a kind whose destination the function can point at the destination bucket. Whether
/// MediaConvert accepts the settings themselves is for MediaConvert to say at `up`.
pub fn parse_job(text: &str) -> Result<Value, String> {
    let document: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let Some(top) = document.as_object() else {
        return Err("must be a JSON object (the parameters of a MediaConvert job)".into());
    };
    let settings = match top.get("Settings") {
        Some(Value::Object(settings)) => settings,
        Some(_) => return Err("Settings must be an object".into()),
        None => return Err("has no Settings (the job's settings)".into()),
    };
    let groups = match settings.get("OutputGroups") {
        Some(Value::Array(groups)) if !groups.is_empty() => groups,
        Some(Value::Array(_)) => return Err("Settings.OutputGroups is empty".into()),
        Some(_) => return Err("Settings.OutputGroups must be a list".into()),
        None => return Err("has no Settings.OutputGroups (where the outputs go)".into()),
    };
    let mut destinations = 0;
    for (i, group) in groups.iter().enumerate() {
        let at = format!("Settings.OutputGroups[{i}]");
        let Some(group) = group.as_object() else {
            return Err(format!("{at} must be an object"));
        };
        match group.get("Outputs") {
            Some(Value::Array(outputs)) if !outputs.is_empty() => {}
            _ => return Err(format!("{at}.Outputs must be a non-empty list")),
        }
        let kind = group
            .get("OutputGroupSettings")
            .and_then(|s| s.get("Type"))
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{at}.OutputGroupSettings.Type is missing"))?;
        if DESTINATION_GROUPS.contains(&kind) {
            destinations += 1;
        }
    }
    if destinations == 0 {
        return Err(format!(
            "no output group has a destination; OutputGroupSettings.Type must be one of {}",
            DESTINATION_GROUPS.join(", ")
        ));
    }
    match settings.get("Inputs") {
        None | Some(Value::Array(_)) => {}
        Some(_) => return Err("Settings.Inputs must be a list".into()),
    }
    Ok(document)
}

#[cfg(test)]
mod tests {
    use super::parse_job;

    #[test]
    fn the_default_job_is_valid() {
        parse_job(cattube_stages::context::DEFAULT_JOB_JSON).unwrap();
    }

    #[test]
    fn job_problems_are_named() {
        for (text, problem) in [
            ("{", "not valid JSON"),
            ("[]", "must be a JSON object"),
            ("{}", "has no Settings"),
            (r#"{"Settings": {}}"#, "Settings.OutputGroups"),
            (r#"{"Settings": {"OutputGroups": []}}"#, "is empty"),
            (
                r#"{"Settings": {"OutputGroups": [{"Outputs": [{}]}]}}"#,
                "OutputGroupSettings.Type",
            ),
            (
                r#"{"Settings": {"OutputGroups": [{"Outputs": [], "OutputGroupSettings": {"Type": "FILE_GROUP_SETTINGS"}}]}}"#,
                "Outputs must be a non-empty list",
            ),
        ] {
            let err = parse_job(text).unwrap_err();
            assert!(err.contains(problem), "{text}: {err}");
        }
    }
}
