//! `govsync demo`.

/// Runs the demo.
pub fn run(_pause: std::time::Duration, _out: &mut dyn std::io::Write) -> Result<(), String> {
    Err("todo".into())
}
