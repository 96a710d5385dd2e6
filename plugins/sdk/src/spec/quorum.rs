//! BookKeeper's ledger placement: each ledger is striped over an *ensemble* of bookies, each entry
//! written to a *write quorum* of them and acknowledged by an *ack quorum*. The sizes are settings
//! in `spec.bookkeeper.options` or, for the segment stores' BookKeeper client, `spec.ecs.options`;
//! the cluster needs at least an ensemble's worth of bookies. The same rule is checked twice: as
//! CRD CEL rules (generated here, so the apiserver refuses a bad edit) and in Rust (for plugins and
//! for the host's scale-down gate).

use super::{ECSClusterSpec, Options};
use crate::FieldError;

pub const ENSEMBLE_SIZE: &str = "bookkeeper.ensemble.size";
pub const WRITE_QUORUM_SIZE: &str = "bookkeeper.write.quorum.size";
pub const ACK_QUORUM_SIZE: &str = "bookkeeper.ack.quorum.size";

/// (key, default) of each size.
pub const SIZES: [(&str, u32); 3] = [(ENSEMBLE_SIZE, 3), (WRITE_QUORUM_SIZE, 3), (ACK_QUORUM_SIZE, 2)];

/// Values a size may take: a whole number from 1 to 9999.
pub const SIZE_PATTERN: &str = "^[1-9][0-9]{0,3}$";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quorum {
    pub ensemble: u32,
    pub write: u32,
    pub ack: u32,
}

impl Quorum {
    /// Whether `bookies` bookies can hold ledgers of this placement.
    pub fn fits(&self, bookies: u32) -> bool {
        self.ensemble <= bookies && self.write <= bookies
    }
}

fn parse(value: &str) -> Option<u32> {
    let ok =
        !value.is_empty() && value.len() <= 4 && value.bytes().all(|b| b.is_ascii_digit()) && !value.starts_with('0');
    ok.then(|| value.parse().ok()).flatten()
}

/// Where a size is set: `spec.bookkeeper.options` wins over `spec.ecs.options`.
fn lookup<'a>(spec: &'a ECSClusterSpec, key: &str) -> Option<&'a str> {
    let from = |options: &'a Options| options.get(key).map(String::as_str);
    from(&spec.bookkeeper.options).or_else(|| from(&spec.ecs.options))
}

impl ECSClusterSpec {
    /// The cluster's ledger placement, or every problem with it (including too few bookies).
    pub fn quorum(&self) -> Result<Quorum, Vec<FieldError>> {
        let quorum = self.sizes()?;
        let mut errors = Vec::new();
        if let Some(e) = order_error(&quorum) {
            errors.push(e);
        }
        let bookies = u32::try_from(self.bookkeeper.replicas).unwrap_or(0);
        if !quorum.fits(bookies) {
            errors.push(FieldError::new("spec.bookkeeper.replicas", REPLICAS_MESSAGE));
        }
        if errors.is_empty() { Ok(quorum) } else { Err(errors) }
    }

    /// The ledger placement the options ask for, whatever the number of bookies.
    pub fn placement(&self) -> Result<Quorum, Vec<FieldError>> {
        let quorum = self.sizes()?;
        order_error(&quorum).map_or(Ok(quorum), |e| Err(vec![e]))
    }

    /// The three sizes, each from the options or its default, if every one set is well formed.
    fn sizes(&self) -> Result<Quorum, Vec<FieldError>> {
        // As the CRD's rules do: every size set in either map must be well formed, even one the
        // other map overrides.
        let maps = [("spec.bookkeeper.options", &self.bookkeeper.options), ("spec.ecs.options", &self.ecs.options)];
        let errors: Vec<FieldError> = maps
            .iter()
            .filter(|(_, options)| SIZES.iter().any(|(key, _)| options.get(*key).is_some_and(|v| parse(v).is_none())))
            .map(|(path, _)| FieldError::new(*path, FORMAT_MESSAGE))
            .collect();
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut sizes = [0u32; 3];
        for (i, (key, default)) in SIZES.iter().enumerate() {
            sizes[i] = lookup(self, key).and_then(parse).unwrap_or(*default);
        }
        Ok(Quorum { ensemble: sizes[0], write: sizes[1], ack: sizes[2] })
    }
}

fn order_error(q: &Quorum) -> Option<FieldError> {
    (q.ack > q.write || q.write > q.ensemble).then(|| FieldError::new("spec.bookkeeper.options", ORDER_MESSAGE))
}

pub const ORDER_MESSAGE: &str = "bookkeeper.ack.quorum.size must be at most bookkeeper.write.quorum.size, \
     which must be at most bookkeeper.ensemble.size (in spec.bookkeeper.options or spec.ecs.options)";
pub const REPLICAS_MESSAGE: &str = "must be at least bookkeeper.ensemble.size and \
     bookkeeper.write.quorum.size (3 unless set in spec.bookkeeper.options or spec.ecs.options): fewer \
     bookies cannot store a ledger";

/// CEL: the size `key` as a string (the bookkeeper options, else the ECS options, else the default).
fn cel_value(key: &str, default: u32) -> String {
    let bk = "self.spec.bookkeeper.options";
    let ecs = "self.spec.ecs.options";
    format!(
        "((has({bk}) && '{key}' in {bk}) ? {bk}['{key}'] : ((has({ecs}) && '{key}' in {ecs}) ? {ecs}['{key}'] : '{default}'))"
    )
}

/// CEL: every size is well formed (else the other rules do not apply: the format rule on the
/// options maps reports it).
fn cel_well_formed() -> String {
    SIZES
        .iter()
        .map(|(k, d)| format!("{}.matches('{SIZE_PATTERN}')", cel_value(k, *d)))
        .collect::<Vec<_>>()
        .join(" && ")
}

/// CEL rule at the root: ack <= write <= ensemble.
pub fn cel_order_rule() -> String {
    let [(e, de), (w, dw), (a, da)] = SIZES;
    format!(
        "!({}) || (int({}) <= int({}) && int({}) <= int({}))",
        cel_well_formed(),
        cel_value(a, da),
        cel_value(w, dw),
        cel_value(w, dw),
        cel_value(e, de)
    )
}

/// CEL rule at the root: enough bookies for the ensemble and the write quorum.
pub fn cel_replicas_rule() -> String {
    let [(e, de), (w, dw), _] = SIZES;
    format!(
        "!({}) || (int({}) <= int(self.spec.bookkeeper.replicas) && int({}) <= int(self.spec.bookkeeper.replicas))",
        cel_well_formed(),
        cel_value(e, de),
        cel_value(w, dw)
    )
}

/// CEL rule at the root: the sizes the options map `map` (e.g. `self.spec.ecs.options`) sets are
/// well formed.
pub fn cel_format_rule(map: &str) -> String {
    let each = SIZES
        .iter()
        .map(|(k, _)| format!("(!('{k}' in {map}) || {map}['{k}'].matches('{SIZE_PATTERN}'))"))
        .collect::<Vec<_>>()
        .join(" && ");
    format!("!has({map}) || ({each})")
}

pub const FORMAT_MESSAGE: &str = "bookkeeper.ensemble.size, bookkeeper.write.quorum.size and \
     bookkeeper.ack.quorum.size must be whole numbers from 1 to 9999";

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(replicas: i32, bk: &[(&str, &str)], ecs: &[(&str, &str)]) -> ECSClusterSpec {
        let options = |o: &[(&str, &str)]| -> serde_json::Value {
            o.iter().map(|(k, v)| (k.to_string(), serde_json::Value::from(*v))).collect()
        };
        serde_json::from_value(serde_json::json!({
            "bookkeeper": {"replicas": replicas, "options": options(bk)},
            "ecs": {"options": options(ecs), "tier2": {"filesystem": {"persistentVolumeClaim": {"claimName": "t"}}}}
        }))
        .unwrap()
    }

    #[test]
    fn defaults_need_three_bookies() {
        assert_eq!(spec(3, &[], &[]).quorum(), Ok(Quorum { ensemble: 3, write: 3, ack: 2 }));
        let errors = spec(2, &[], &[]).quorum().unwrap_err();
        assert_eq!(errors[0].path, "spec.bookkeeper.replicas");
    }

    #[test]
    fn sizes_come_from_either_options_map_bookkeeper_first() {
        assert!(spec(3, &[], &[(ENSEMBLE_SIZE, "4")]).quorum().is_err(), "3 bookies, ensemble 4");
        assert_eq!(spec(4, &[], &[(ENSEMBLE_SIZE, "4")]).quorum().unwrap().ensemble, 4);
        let both = spec(3, &[(ENSEMBLE_SIZE, "3")], &[(ENSEMBLE_SIZE, "5")]);
        assert_eq!(both.quorum().unwrap().ensemble, 3);
        let small = spec(1, &[(ENSEMBLE_SIZE, "1"), (WRITE_QUORUM_SIZE, "1"), (ACK_QUORUM_SIZE, "1")], &[]);
        assert!(small.quorum().is_ok());
    }

    #[test]
    fn malformed_and_disordered_sizes_are_refused_naming_the_field() {
        for bad in ["0", "-1", "x", "", "01", "10000", "2.5"] {
            let errors = spec(3, &[], &[(ACK_QUORUM_SIZE, bad)]).quorum().unwrap_err();
            assert_eq!(errors[0].path, "spec.ecs.options", "{bad}");
        }
        // Overridden by the bookkeeper map, still refused (as the CRD does).
        let errors = spec(3, &[(ENSEMBLE_SIZE, "3")], &[(ENSEMBLE_SIZE, "x")]).quorum().unwrap_err();
        assert_eq!(errors[0].path, "spec.ecs.options");
        let errors = spec(5, &[(ACK_QUORUM_SIZE, "3"), (WRITE_QUORUM_SIZE, "2")], &[]).quorum().unwrap_err();
        assert_eq!(errors[0].path, "spec.bookkeeper.options");
    }
}
