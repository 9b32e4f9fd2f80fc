//! The text summaries' shared parts: the header, one row per resource, the cost lines.

use super::report::{Report, ResourceReport};

pub const OFF: &str = "off";

/// `, N off` for a summary line's counts (nothing when none is off).
pub fn off_count(report: &Report) -> String {
    match report.count(|r| r.off) {
        0 => String::new(),
        n => format!(", {n} {OFF}"),
    }
}

/// The width a result row may take: a terminal's default, which a longer row wraps in.
pub const ROW_WIDTH: usize = 80;

/// The common part of every text summary: one line per resource, by stage, in columns:
/// what happened, stage, id, name, then the note. When a row would be wider than
/// [`ROW_WIDTH`] (default names carry the account and the region, 45 characters and more),
/// every name goes on a line of its own below its id, so the columns stay aligned.
pub fn resource_lines(report: &Report, word: impl Fn(&ResourceReport) -> String) -> String {
    let mut rows: Vec<&ResourceReport> = report.resources.iter().collect();
    // Stable: within a stage, the dependency order the resources were reported in.
    rows.sort_by_key(|r| crate::plan::stage_order(r.stage));
    let shown = |r: &ResourceReport| {
        if r.name.is_empty() {
            "-".to_string()
        } else {
            r.name.clone()
        }
    };
    let width = rows
        .iter()
        .map(|r| shown(r).chars().count())
        .max()
        .unwrap_or(0);
    let word_of = |r: &ResourceReport| if r.off { OFF.to_string() } else { word(r) };
    let one_line = |r: &ResourceReport| {
        let row = format!(
            "  {:<9} [{:>2}] {:<26} {:<width$}  {}",
            word_of(r),
            r.stage,
            r.id,
            shown(r),
            r.note
        );
        row.trim_end().to_string()
    };
    let wide = rows.iter().any(|r| one_line(r).chars().count() > ROW_WIDTH);
    let mut out = String::new();
    for r in rows {
        if wide {
            let row = format!(
                "  {:<9} [{:>2}] {:<26} {}",
                word_of(r),
                r.stage,
                r.id,
                r.note
            );
            out.push_str(row.trim_end());
            out.push('\n');
            if !r.name.is_empty() {
                // Below the id: two, the word (9), a space, the stage (4), a space.
                out.push_str(&format!("{:17}{}\n", "", r.name));
            }
        } else {
            out.push_str(&one_line(r));
            out.push('\n');
        }
        for drift in &r.drift {
            out.push_str(&format!("{:>18}- {drift}\n", ""));
        }
    }
    out
}

/// The header line of a text summary (nothing when the run stopped before AWS was reached).
pub fn header(report: &Report) -> String {
    if report.account.is_none() {
        return String::new();
    }
    format!(
        "stack {} in {} (account {})\n",
        report.stack.as_deref().unwrap_or("?"),
        report.region.as_deref().unwrap_or("?"),
        report.account.as_deref().unwrap_or("?")
    )
}

/// The estimate line and the warnings of a text summary (`plan`, `up`).
pub fn cost_lines(
    report: &Report,
    cost: Option<&crate::pricing::Estimate>,
    limits: Option<&crate::limits::Limits>,
) -> String {
    let mut out = String::new();
    if let Some(estimate) = cost {
        out.push_str(&estimate.line());
        out.push('\n');
    }
    if let Some(limits) = limits {
        out.push_str(&limits.line());
        out.push('\n');
    }
    for warning in &report.warnings {
        out.push_str(&format!("warning: {warning}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::printer::{Action, Status};

    fn resource(id: &'static str, stage: &'static str, name: &str, note: &str) -> ResourceReport {
        ResourceReport {
            id,
            stage,
            name: name.to_string(),
            arn: String::new(),
            action: Action::Create,
            status: Status::Ok,
            drift: Vec::new(),
            note: note.to_string(),
            off: false,
        }
    }

    #[test]
    fn rows_with_default_names_fit_80_columns() {
        let mut report = Report::new("up");
        report.resources = vec![
            resource(
                "source-bucket",
                "1",
                "cattube-source-123456789012-ap-southeast-2",
                "created",
            ),
            resource(
                "destination-bucket",
                "2",
                "cattube-destination-123456789012-ap-southeast-2",
                "created",
            ),
            resource("destination-bucket-policy", "6", "", "created"),
        ];
        let text = resource_lines(&report, |_| "created".to_string());
        assert_eq!(
            text,
            "  created   [ 1] source-bucket              created\n\
             \x20                cattube-source-123456789012-ap-southeast-2\n\
             \x20 created   [ 2] destination-bucket         created\n\
             \x20                cattube-destination-123456789012-ap-southeast-2\n\
             \x20 created   [ 6] destination-bucket-policy  created\n"
        );
        assert!(
            text.lines().all(|l| l.chars().count() <= ROW_WIDTH),
            "{text}"
        );
    }

    #[test]
    fn rows_with_short_names_keep_one_line_each() {
        let mut report = Report::new("status");
        report.resources = vec![
            resource("source-bucket", "1", "cats-in", "adopted"),
            resource("queue", "3", "cattube-queue", ""),
        ];
        let text = resource_lines(&report, |_| "ok".to_string());
        assert_eq!(
            text,
            "  ok        [ 1] source-bucket              cats-in        adopted\n\
             \x20 ok        [ 3] queue                      cattube-queue\n"
        );
    }
}
