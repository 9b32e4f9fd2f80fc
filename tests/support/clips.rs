//! Real clips made with ffmpeg, for the tests that upload, convert, serve or play video.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::succeeded;

/// Runs ffmpeg quietly in `dir`, overwriting what it writes; fails the test with its stderr.
pub fn ffmpeg<S: AsRef<OsStr>>(dir: &Path, args: impl IntoIterator<Item = S>) {
    succeeded(
        Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-y"])
            .args(args)
            .current_dir(dir),
    );
}

/// ffmpeg's two generated inputs: the lavfi video source `video` (e.g.
/// `testsrc2=size=320x180:rate=24:duration=2`) and a 440 Hz tone of `seconds`.
pub fn pattern_and_tone(video: &str, seconds: u32) -> Vec<String> {
    let tone = format!("sine=frequency=440:duration={seconds}");
    ["-f", "lavfi", "-i", video, "-f", "lavfi", "-i", &tone]
        .map(String::from)
        .to_vec()
}

/// `name` in `dir`: the lavfi `video` source with a tone for `seconds`, encoded H.264 (with
/// the encoder's options `x264`, e.g. its preset) and AAC, as a camera or phone would.
pub fn h264_with_tone(dir: &Path, name: &str, video: &str, seconds: u32, x264: &[&str]) -> PathBuf {
    let inputs = pattern_and_tone(video, seconds);
    let args = inputs.iter().map(String::as_str).chain(["-c:v", "libx264"]);
    let rest = ["-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", name];
    ffmpeg(dir, args.chain(x264.iter().copied()).chain(rest));
    dir.join(name)
}

/// Bytes that are not all the same (xorshift from `seed`), so a misplaced part would show.
pub fn video_bytes(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}
