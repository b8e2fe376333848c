//! Reading the real-boot fixtures (`fixtures/linux-*/`): the files, and the numbers the
//! console logs (`memblock=debug`) state, found independently of the crates' parsers.

/// The bytes of `fixtures/<dir>/<name>`.
pub fn fixture(dir: &str, name: &str) -> Vec<u8> {
    let p = format!("{}/fixtures/{dir}/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

/// The console log of `boot` in `fixtures/<dir>/` without the `[    0.000000] `
/// timestamps.
pub fn log(dir: &str, boot: &str) -> String {
    let text = String::from_utf8_lossy(&fixture(dir, &format!("{boot}.log"))).into_owned();
    text.lines()
        .map(
            |l| match l.strip_prefix('[').and_then(|r| r.split_once("] ")) {
                Some((_, rest)) => rest,
                None => l,
            },
        )
        .collect::<Vec<_>>()
        .join("\n")
}

/// The decimal number right after `prefix` in the log line that starts with `prefix`
/// and contains `tag`.
pub fn logged(text: &str, prefix: &str, tag: &str) -> u64 {
    let line = text
        .lines()
        .find(|l| l.contains(tag) && l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix}...{tag} line"));
    let rest = &line[prefix.len()..];
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().unwrap()
}

/// `[start, end)` of the first `memblock_reserve` line of `text` naming `caller`.
pub fn reserved(text: &str, caller: &str) -> (u64, u64) {
    let line = text
        .lines()
        .find(|l| l.starts_with("memblock_reserve:") && l.contains(caller))
        .unwrap_or_else(|| panic!("no reserve by {caller}"));
    let inner = &line[line.find('[').unwrap() + 1..line.find(']').unwrap()];
    let (a, b) = inner.split_once('-').unwrap();
    let p = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap();
    (p(a), p(b) + 1)
}
