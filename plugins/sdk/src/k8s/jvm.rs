//! JVM option merging: the defaults a component ships with, overridden flag by flag by the user's.

/// The identity of a JVM flag, so that a user's flag replaces the default with the same identity:
/// `-Xmx1g` -> `-Xmx`, `-XX:+UseG1GC`/`-XX:-UseG1GC` -> `-XX:UseG1GC`, `-XX:MaxRAM=1g` -> `-XX:MaxRAM`,
/// `-Dkey=value` -> `-Dkey`.
fn jvm_flag_key(flag: &str) -> String {
    for prefix in ["-Xmx", "-Xms", "-Xss", "-Xmn"] {
        if flag.starts_with(prefix) {
            return prefix.to_string();
        }
    }
    if let Some(rest) = flag.strip_prefix("-XX:") {
        let rest = rest.trim_start_matches(['+', '-']);
        return format!("-XX:{}", rest.split('=').next().unwrap_or(rest));
    }
    if flag.starts_with("-D") {
        return flag.split('=').next().unwrap_or(flag).to_string();
    }
    flag.to_string()
}

/// Defaults followed by the user's flags; a user flag replaces a default with the same identity, in
/// the default's position. Later user flags win over earlier ones.
pub fn merge_jvm_options<S: AsRef<str>>(defaults: &[&str], user: &[S]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for flag in defaults.iter().copied().chain(user.iter().map(AsRef::as_ref)) {
        let flag = flag.trim();
        if flag.is_empty() {
            continue;
        }
        let key = jvm_flag_key(flag);
        match out.iter().position(|f| jvm_flag_key(f) == key) {
            Some(i) => out[i] = flag.to_string(),
            None => out.push(flag.to_string()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_jvm_flags_replace_defaults_in_place() {
        let merged = merge_jvm_options(
            &["-Xms1g", "-XX:+UseG1GC", "-XX:MaxDirectMemorySize=1g", "-Dfoo=1"],
            &["-XX:-UseG1GC", "-Xms2g", "-Dbar=2", "-XX:MaxDirectMemorySize=4g"],
        );
        assert_eq!(merged, vec!["-Xms2g", "-XX:-UseG1GC", "-XX:MaxDirectMemorySize=4g", "-Dfoo=1", "-Dbar=2"]);
    }

    #[test]
    fn blank_flags_are_dropped_and_later_user_flags_win() {
        let merged = merge_jvm_options(&["-Xmx1g"], &[" ", "-Xmx2g", "-Xmx3g"]);
        assert_eq!(merged, vec!["-Xmx3g"]);
    }
}
