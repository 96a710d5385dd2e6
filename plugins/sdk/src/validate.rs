//! Checks the plugins share, beyond what the CRD schema enforces: names, quantities, replica counts,
//! claim templates, JVM flags and free-form options. Each reports with the wording every plugin uses,
//! so that the host, which merges (and deduplicates) the problems of all plugins, shows one line per
//! problem.

use crate::model::{FieldError, PluginError};
use crate::spec::{JvmOptions, Options};
use k8s_openapi::api::core::v1::PersistentVolumeClaimSpec;
use std::ops::RangeInclusive;

/// `Ok` without problems, else every problem as [`PluginError::InvalidInput`]: how `reconcile` refuses
/// a spec that `validate` rejects. (The host validates first; checking again keeps a bad spec from ever
/// reaching the API server.)
pub fn ensure_valid(errors: Vec<FieldError>) -> Result<(), PluginError> {
    if errors.is_empty() { Ok(()) } else { Err(PluginError::InvalidInput(errors)) }
}

/// `"must not be empty"` at `path` when `value` is empty or only whitespace.
pub fn require_non_blank(path: &str, value: &str) -> Option<FieldError> {
    value.trim().is_empty().then(|| FieldError::new(path, "must not be empty"))
}

/// Why `name` is not a DNS-1123 subdomain (the rule for most Kubernetes object names), if it is not.
pub fn dns1123_subdomain_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("must not be empty".to_string());
    }
    if name.len() > 253 {
        return Some("must be at most 253 characters".to_string());
    }
    for label in name.split('.') {
        let valid = !label.is_empty()
            && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !valid {
            return Some(
                "must consist of lower case alphanumeric characters, '-' or '.', and start and end with an \
                 alphanumeric character"
                    .to_string(),
            );
        }
    }
    None
}

/// Why `name` is not a DNS-1123 label (the rule for Service names and each part of a domain), if it
/// is not.
pub fn dns1123_label_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("must not be empty".to_string());
    }
    if name.len() > 63 {
        return Some("must be at most 63 characters".to_string());
    }
    let valid = name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    (!valid).then(|| {
        "must consist of lower case alphanumeric characters or '-', and start and end with an alphanumeric \
         character"
            .to_string()
    })
}

/// Why `name` is not a domain that can resolve, if it is not: a DNS-1123 subdomain whose labels are
/// also DNS-1123 labels (at most 63 characters each). No trailing dot.
pub fn dns_domain_problem(name: &str) -> Option<String> {
    dns1123_subdomain_problem(name)
        .or_else(|| name.split('.').find_map(|label| dns1123_label_problem(label).map(|p| format!("{label:?} {p}"))))
}

/// Which spellings of a Kubernetes quantity a field accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuantitySyntax {
    /// A binary or decimal suffix, or a decimal exponent: `20Gi`, `1.5T`, `2e10`.
    WithExponent,
    /// A binary or decimal suffix only (`1Ti`, `500Gi`): where nobody writes an exponent, a stray `e`
    /// is more likely a typo.
    SuffixOnly,
}

/// A plausible Kubernetes quantity: digits, an optional decimal part, and an optional binary or decimal
/// suffix (or, if `syntax` allows it, a decimal exponent), greater than zero. Catches the usual `20GB`
/// before the API server rejects the object.
pub fn is_quantity(quantity: &str, syntax: QuantitySyntax) -> bool {
    const SUFFIXES: [&str; 12] = ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "k", "M", "G", "T", "P", "E"];
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let number = match (syntax, quantity.split_once(['e', 'E'])) {
        (QuantitySyntax::WithExponent, Some((number, exponent))) if digits(exponent) => number,
        _ => SUFFIXES.iter().find_map(|s| quantity.strip_suffix(s)).unwrap_or(quantity),
    };
    let (whole, fraction) = match number.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (number, None),
    };
    digits(whole) && fraction.is_none_or(digits) && number.bytes().any(|b| (b'1'..=b'9').contains(&b))
}

/// Why `quantity` is not a Kubernetes quantity (see [`is_quantity`]), naming `example` as a good one.
pub fn quantity_problem(quantity: &str, syntax: QuantitySyntax, example: &str) -> Option<String> {
    (!is_quantity(quantity, syntax)).then(|| format!("{quantity:?} is not a Kubernetes quantity, e.g. {example}"))
}

/// The storage size a claim (template) requests, if it names one.
pub fn storage_request(claim: &PersistentVolumeClaimSpec) -> Option<&str> {
    claim.resources.as_ref()?.requests.as_ref()?.get("storage").map(|q| q.0.as_str())
}

/// A replica count outside `bounds`, at `path`; `too_few` says why fewer would not work.
pub fn validate_replicas(
    path: &str,
    replicas: i32,
    bounds: RangeInclusive<i32>,
    too_few: Option<&str>,
) -> Option<FieldError> {
    let (min, max) = (*bounds.start(), *bounds.end());
    if replicas < min {
        let why = too_few.map(|why| format!(": {why}")).unwrap_or_default();
        Some(FieldError::new(path, format!("must be at least {min} (got {replicas}){why}")))
    } else if replicas > max {
        Some(FieldError::new(path, format!("must be at most {max} (got {replicas})")))
    } else {
        None
    }
}

/// Each flag must look like a JVM option: anything else would be read as the main class. Problems are
/// reported at `<path>.<list>[<index>]`, memory flags first, then GC flags, then the others.
pub fn validate_jvm_options(path: &str, jvm: &JvmOptions) -> Vec<FieldError> {
    let lists = [("memoryOpts", &jvm.memory_opts), ("gcOpts", &jvm.gc_opts), ("extraOpts", &jvm.extra_opts)];
    let mut errors = Vec::new();
    for (field, flags) in lists {
        for (i, flag) in flags.iter().enumerate() {
            if !flag.trim_start().starts_with('-') {
                errors.push(FieldError::new(
                    format!("{path}.{field}[{i}]"),
                    format!("JVM flags must start with '-' (got {flag:?})"),
                ));
            }
        }
    }
    errors
}

/// ECS settings (`spec.ecs.options`), passed as `-Dkey=value` in `JAVA_OPTS`, which is split on
/// whitespace: a key must be non-empty without whitespace or '=', and a value without whitespace
/// (it would become two JVM arguments). Problems are reported at `<path>.<key>`, in key order.
pub fn validate_ecs_options(path: &str, options: &Options) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (key, value) in options {
        let path = format!("{path}.{key}");
        if key.is_empty() || key.contains(|c: char| c.is_whitespace() || c == '=') {
            errors.push(FieldError::new(
                path,
                "option names must be non-empty, without whitespace or '=' (they become -Dname=value)",
            ));
        } else if value.contains(char::is_whitespace) {
            errors.push(FieldError::new(
                path,
                "option values must not contain whitespace (they are passed in JAVA_OPTS)",
            ));
        }
    }
    errors
}

/// BookKeeper settings (`spec.bookkeeper.options`), which become `BK_<key>` ConfigMap keys and so
/// environment variables: a key must be non-empty and only `[A-Za-z0-9_.-]`. Problems are reported at
/// `<path>.<key>`, in key order.
pub fn validate_bookkeeper_options(path: &str, options: &Options) -> Vec<FieldError> {
    let valid =
        |key: &str| !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    options
        .keys()
        .filter(|key| !valid(key))
        .map(|key| {
            FieldError::new(
                format!("{path}.{key}"),
                "option names must be non-empty and contain only letters, digits, '_', '.' and '-' \
                 (they become BK_<name> environment variables)",
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subdomains_and_labels() {
        for good in ["a", "tier2.nfs-0", "0a", &"a".repeat(253)] {
            assert_eq!(dns1123_subdomain_problem(good), None, "{good}");
        }
        for bad in ["", "Ecs", "-a", "a-", "a_b", "a..b", "a.", &"a".repeat(254)] {
            assert!(dns1123_subdomain_problem(bad).is_some(), "{bad}");
        }
        assert_eq!(dns1123_label_problem(&"a".repeat(63)), None);
        for bad in ["", "a.b", "-a", "A", &"a".repeat(64)] {
            assert!(dns1123_label_problem(bad).is_some(), "{bad}");
        }
        // A subdomain may have long labels; a domain that must resolve may not.
        let long = format!("{}.com", "a".repeat(64));
        assert_eq!(dns1123_subdomain_problem(&long), None);
        assert!(dns_domain_problem(&long).is_some());
        assert_eq!(dns_domain_problem("ecs.example.com"), None);
    }

    #[test]
    fn quantities_with_and_without_exponents() {
        use QuantitySyntax::*;
        for good in ["20Gi", "1.5T", "2048", "10k", "3E", "1"] {
            assert!(is_quantity(good, WithExponent) && is_quantity(good, SuffixOnly), "{good}");
        }
        assert!(is_quantity("2e10", WithExponent) && !is_quantity("2e10", SuffixOnly));
        for bad in ["", "Ti", "1TB", "1 Ti", "-1Ti", "0", "0Gi", "1.Ti", ".5Ti", "1ki", "20GB"] {
            assert!(!is_quantity(bad, WithExponent) && !is_quantity(bad, SuffixOnly), "{bad}");
        }
        assert_eq!(
            quantity_problem("20GB", WithExponent, "20Gi").as_deref(),
            Some("\"20GB\" is not a Kubernetes quantity, e.g. 20Gi")
        );
    }

    #[test]
    fn replica_bounds() {
        assert_eq!(validate_replicas("r", 1, 1..=3, None), None);
        assert_eq!(validate_replicas("r", 3, 1..=3, None), None);
        assert_eq!(validate_replicas("r", 0, 1..=3, Some("why")).unwrap().message, "must be at least 1 (got 0): why");
        assert_eq!(validate_replicas("r", 4, 1..=3, Some("why")).unwrap().message, "must be at most 3 (got 4)");
    }

    #[test]
    fn jvm_flags_must_start_with_a_dash() {
        let jvm = JvmOptions {
            memory_opts: vec!["-Xmx1g".into(), "Xms1g".into()],
            gc_opts: vec!["".into()],
            extra_opts: vec![" -Da=b".into()],
        };
        let errors = validate_jvm_options("spec.x", &jvm);
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["spec.x.memoryOpts[1]", "spec.x.gcOpts[0]"]);
        assert_eq!(errors[0].message, "JVM flags must start with '-' (got \"Xms1g\")");
    }

    #[test]
    fn option_keys_and_values() {
        let options: Options =
            [("ok.key", "1"), ("bad key", "2"), ("a=b", "3"), ("", "4"), ("spaced", "x y"), ("BK-ok_1", "z")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        let paths = |errors: Vec<FieldError>| errors.into_iter().map(|e| e.path).collect::<Vec<_>>();
        assert_eq!(paths(validate_ecs_options("o", &options)), ["o.", "o.a=b", "o.bad key", "o.spaced"]);
        assert_eq!(paths(validate_bookkeeper_options("o", &options)), ["o.", "o.a=b", "o.bad key"]);
    }
}
