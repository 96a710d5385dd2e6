//! deploy/monitoring: the Grafana dashboard, the PrometheusRule and the PodMonitor name only metrics
//! and labels the operator exports. What it exports is read from the real registry (`Metrics`),
//! encoded as `/metrics` serves it, so a renamed or removed metric fails here, not on a dashboard.

use ecs_operator::controller::metrics::Metrics;
use serde_json::Value as Json;
use serde_yaml::Value as Yaml;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

const DASHBOARD: &str = "deploy/monitoring/grafana-dashboard.json";
const RULES: &str = "deploy/monitoring/prometheusrule.yaml";
const POD_MONITOR: &str = "deploy/monitoring/podmonitor.yaml";

/// Labels Prometheus adds to every series it scrapes through the PodMonitor (prometheus-operator's
/// relabeling), so queries may select and group by them although the operator does not export them.
const TARGET_LABELS: &[&str] = &["namespace", "pod", "container", "endpoint", "job", "instance"];

/// The alerts the issue asks for; others may be added.
const REQUIRED_ALERTS: &[&str] = &[
    "ECSOperatorReconcileErrors",
    "ECSOperatorPluginFaults",
    "ECSOperatorPluginLoadFailed",
    "ECSClusterNotReady",
    "ECSOperatorLeaderMissing",
];

fn read(path: &str) -> String {
    let full = format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{path}: {e}"))
}

// ---------------------------------------------------------------------------------------------
// What the operator exports.

/// The operator's metrics as Prometheus stores them: each family (from the `# TYPE` lines) with
/// its type, and each series name a query can use (`_total`, `_bucket`...) with its label names.
#[derive(Debug)]
struct Exported {
    families: BTreeMap<String, String>,
    series: BTreeMap<String, BTreeSet<String>>,
}

impl Exported {
    /// The family a series name belongs to.
    fn family_of(&self, series: &str) -> Option<&str> {
        self.families
            .keys()
            .map(String::as_str)
            .find(|f| series_names(f, &self.families[*f]).iter().any(|s| s == series))
    }
}

/// The series names Prometheus stores for a family of an OpenMetrics exposition.
fn series_names(family: &str, type_: &str) -> Vec<String> {
    let with = |suffixes: &[&str]| suffixes.iter().map(|s| format!("{family}{s}")).collect();
    match type_ {
        "counter" => with(&["_total", "_created"]),
        "histogram" | "gaugehistogram" => with(&["_bucket", "_sum", "_count", "_created", "_gcount", "_gsum"]),
        "summary" => with(&["", "_sum", "_count", "_created"]),
        "info" => with(&["_info"]),
        _ => with(&[""]),
    }
}

/// Encodes a registry with one sample in every family (a family with no sample shows no series,
/// and so no label names).
fn exported() -> Exported {
    let m = Metrics::default();
    m.reconciled("applied", Duration::from_millis(3));
    m.wrote("StatefulSet", "apply");
    m.plugin_called("bookkeeper", Duration::from_micros(80));
    m.plugin_fault("bookkeeper", "trap");
    m.leader.set(1);
    m.clusters.set(2);
    m.clusters_not_ready.set(1);
    m.plugins_reloaded();
    m.plugin_load_failed("broken.wasm");
    parse_exposition(&m.encode())
}

fn parse_exposition(text: &str) -> Exported {
    let label = regex::Regex::new(r#"([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*""#).unwrap();
    let mut families = BTreeMap::new();
    let mut series: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, type_) = rest.split_once(' ').unwrap_or_else(|| panic!("bad TYPE line {line:?}"));
            families.insert(name.to_string(), type_.to_string());
        } else if !line.starts_with('#') && !line.is_empty() {
            let end = line.find(['{', ' ']).unwrap_or(line.len());
            let labels = series.entry(line[..end].to_string()).or_default();
            if line[end..].starts_with('{') {
                // The first `}` outside a quoted value (an exemplar may follow with braces of its own).
                let (mut quoted, mut escaped, mut close) = (false, false, None);
                for (i, c) in line[end..].char_indices() {
                    match c {
                        _ if escaped => escaped = false,
                        '\\' => escaped = true,
                        '"' => quoted = !quoted,
                        '}' if !quoted => {
                            close = Some(end + i);
                            break;
                        }
                        _ => {}
                    }
                }
                let close = close.unwrap_or_else(|| panic!("unclosed labels in {line:?}"));
                labels.extend(label.captures_iter(&line[end..close]).map(|c| c[1].to_string()));
            }
        }
    }
    let exported = Exported { families, series };
    // The suffix rules above must be what the encoder does: every sample belongs to a family, and
    // every family shows a sample (else record one in `exported()`).
    for name in exported.series.keys() {
        assert!(exported.family_of(name).is_some(), "sample {name} matches no # TYPE line:\n{text}");
    }
    for family in exported.families.keys() {
        assert!(
            exported.series.keys().any(|s| exported.family_of(s) == Some(family.as_str())),
            "metric family {family} has no sample: record one in exported() so its labels are known"
        );
    }
    exported
}

// ---------------------------------------------------------------------------------------------
// The PromQL names an expression uses.

/// A vector selector: the metric and the label names it matches on.
#[derive(Debug, PartialEq)]
struct Selector {
    metric: String,
    labels: Vec<String>,
}

/// The names in one PromQL expression: its selectors, and the labels of its `by`, `without`,
/// `on`, `ignoring`, `group_left` and `group_right` clauses.
#[derive(Debug, Default, PartialEq)]
struct Names {
    selectors: Vec<Selector>,
    grouping: Vec<String>,
}

const GROUPING_KEYWORDS: &[&str] = &["by", "without", "on", "ignoring", "group_left", "group_right"];
const KEYWORDS: &[&str] = &["offset", "bool", "and", "or", "unless", "atan2", "inf", "nan"];
const AGGREGATIONS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
];

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b':'
}

fn is_ident(c: u8) -> bool {
    is_ident_start(c) || c.is_ascii_digit()
}

/// A small PromQL lexer: enough to tell metric names from functions, keywords, label names,
/// strings, numbers, durations, ranges and Grafana variables (`$__rate_interval`, `${x}`).
struct Lexer<'a> {
    s: &'a [u8],
    i: usize,
}

impl Lexer<'_> {
    fn skip_space(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_space();
        self.s.get(self.i).copied()
    }

    fn ident(&mut self) -> String {
        let start = self.i;
        while self.i < self.s.len() && is_ident(self.s[self.i]) {
            self.i += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }

    /// Skips a quoted string starting at the quote.
    fn string(&mut self) -> Result<(), String> {
        let quote = self.s[self.i];
        let start = self.i;
        self.i += 1;
        while self.i < self.s.len() {
            match self.s[self.i] {
                b'\\' if quote != b'`' => self.i += 2,
                c if c == quote => {
                    self.i += 1;
                    return Ok(());
                }
                _ => self.i += 1,
            }
        }
        Err(format!("unterminated string at byte {start}"))
    }

    /// Skips past the next `close`, failing if there is none.
    fn skip_to(&mut self, close: u8) -> Result<(), String> {
        let start = self.i;
        match self.s[self.i..].iter().position(|&c| c == close) {
            Some(n) => {
                self.i += n + 1;
                Ok(())
            }
            None => Err(format!("no closing {:?} for byte {start}", close as char)),
        }
    }

    /// `(a, b)`: label names, after a grouping keyword.
    fn label_list(&mut self) -> Result<Vec<String>, String> {
        let start = self.i;
        self.skip_to(b')')?;
        let inner = String::from_utf8_lossy(&self.s[start + 1..self.i - 1]).into_owned();
        Ok(inner.split(',').map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect())
    }

    /// `{a="x", b!~"y"}`: the label names matched on, and the metric if given as `__name__="m"`.
    fn matchers(&mut self) -> Result<(Vec<String>, Option<String>), String> {
        self.i += 1;
        let (mut labels, mut name) = (Vec::new(), None);
        loop {
            match self.peek() {
                Some(b'}') => {
                    self.i += 1;
                    return Ok((labels, name));
                }
                Some(b',') => self.i += 1,
                Some(c) if is_ident_start(c) => {
                    let label = self.ident();
                    let op_start = self.i;
                    self.skip_space();
                    while self.i < self.s.len() && matches!(self.s[self.i], b'=' | b'!' | b'~') {
                        self.i += 1;
                    }
                    let op = String::from_utf8_lossy(&self.s[op_start..self.i]).trim().to_string();
                    if !matches!(op.as_str(), "=" | "!=" | "=~" | "!~") {
                        return Err(format!("label {label}: expected a matcher operator, found {op:?}"));
                    }
                    match self.peek() {
                        Some(b'"' | b'\'' | b'`') => {
                            let value_start = self.i + 1;
                            self.string()?;
                            if label == "__name__" && op == "=" {
                                name = Some(String::from_utf8_lossy(&self.s[value_start..self.i - 1]).into_owned());
                            }
                        }
                        _ => return Err(format!("label {label}: expected a quoted value")),
                    }
                    labels.push(label);
                }
                Some(c) => return Err(format!("unexpected {:?} in a label matcher", c as char)),
                None => return Err("unclosed label matcher".into()),
            }
        }
    }
}

fn extract(expr: &str) -> Result<Names, String> {
    let mut lx = Lexer { s: expr.as_bytes(), i: 0 };
    let mut names = Names::default();
    while let Some(c) = lx.peek() {
        match c {
            // A comment, to the end of the line.
            b'#' => lx.i = lx.s[lx.i..].iter().position(|&c| c == b'\n').map_or(lx.s.len(), |n| lx.i + n),
            b'"' | b'\'' | b'`' => lx.string()?,
            // A range or subquery: durations and Grafana's interval variables.
            b'[' => lx.skip_to(b']')?,
            b'$' => {
                lx.i += 1;
                if lx.s.get(lx.i) == Some(&b'{') {
                    lx.skip_to(b'}')?;
                } else {
                    lx.ident();
                }
            }
            b'{' => {
                let (labels, name) = lx.matchers()?;
                let metric = name.ok_or("a selector without a metric name")?;
                names.selectors.push(Selector { metric, labels });
            }
            // A number or a duration (`0.99`, `1e-3`, `15m`, `0x1f`).
            c if c.is_ascii_digit() || c == b'.' => {
                while lx.i < lx.s.len() {
                    let d = lx.s[lx.i];
                    let exponent_sign = matches!(d, b'+' | b'-')
                        && matches!(lx.s[lx.i - 1], b'e' | b'E')
                        && lx.s[lx.i - 2].is_ascii_digit();
                    if d.is_ascii_alphanumeric() || d == b'.' || d == b'_' || exponent_sign {
                        lx.i += 1;
                    } else {
                        break;
                    }
                }
            }
            c if is_ident_start(c) => {
                let word = lx.ident();
                let lower = word.to_ascii_lowercase();
                if GROUPING_KEYWORDS.contains(&lower.as_str()) {
                    if lx.peek() == Some(b'(') {
                        names.grouping.extend(lx.label_list()?);
                    }
                } else if KEYWORDS.contains(&lower.as_str()) || AGGREGATIONS.contains(&lower.as_str()) {
                    // Operators and aggregations, never metrics.
                } else if lx.peek() == Some(b'(') {
                    // A function call.
                } else {
                    let labels = if lx.peek() == Some(b'{') { lx.matchers()?.0 } else { Vec::new() };
                    names.selectors.push(Selector { metric: word, labels });
                }
            }
            _ => lx.i += 1,
        }
    }
    Ok(names)
}

// ---------------------------------------------------------------------------------------------
// The checks: each returns the problems it found, one line each, naming the file and the place.

/// Checks the names of one expression against what the operator exports (and the recording
/// rules define): metrics, the labels its selectors match on, and the labels it groups by.
fn check_expr(exported: &Exported, recorded: &BTreeSet<String>, place: &str, expr: &str) -> Vec<String> {
    let names = match extract(expr) {
        Ok(names) => names,
        Err(e) => return vec![format!("{place}: cannot parse {expr:?}: {e}")],
    };
    let mut problems = Vec::new();
    if names.selectors.is_empty() {
        problems.push(format!("{place}: {expr:?} names no metric"));
    }
    let mut known_labels: BTreeSet<&str> = TARGET_LABELS.iter().copied().collect();
    for s in &names.selectors {
        match exported.series.get(&s.metric) {
            Some(labels) => {
                known_labels.extend(labels.iter().map(String::as_str));
                for l in s.labels.iter().filter(|l| !labels.contains(*l) && !TARGET_LABELS.contains(&l.as_str())) {
                    problems.push(format!(
                        "{place}: {} has no label {l:?} (it has {:?}, plus the target's {:?})",
                        s.metric, labels, TARGET_LABELS
                    ));
                }
            }
            None if recorded.contains(&s.metric) => {}
            None => {
                let hint = match exported.families.get(&s.metric) {
                    Some(t) => format!("{} is a {t}: query {:?}", s.metric, series_names(&s.metric, t)),
                    None => format!("the operator exports {:?}", exported.series.keys().collect::<Vec<_>>()),
                };
                problems.push(format!("{place}: {} is not a metric the operator exports; {hint}", s.metric));
            }
        }
    }
    for l in names.grouping.iter().filter(|l| !known_labels.contains(l.as_str())) {
        problems.push(format!("{place}: groups by {l:?}, a label none of its metrics has"));
    }
    problems
}

/// Every PromQL expression of the dashboard, with where it is: targets' `expr`, and the
/// template variables' queries (`label_values(selector, label)`).
fn dashboard_exprs(dashboard: &Json) -> Vec<(String, String)> {
    // `title` is the nearest panel's, to name the place.
    fn walk(v: &Json, path: &str, title: &str, out: &mut Vec<(String, String)>) {
        match v {
            Json::Object(map) => {
                let title = map.get("title").and_then(Json::as_str).unwrap_or(title);
                for (k, child) in map {
                    match (k.as_str(), child) {
                        ("expr", Json::String(e)) => out.push((format!("{path}.expr ({title})"), e.clone())),
                        _ => walk(child, &format!("{path}.{k}"), title, out),
                    }
                }
            }
            Json::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(item, &format!("{path}[{i}]"), title, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], "panels", "", &mut out);
    let variables = dashboard["templating"]["list"].as_array().cloned().unwrap_or_default();
    for (i, var) in variables.iter().enumerate() {
        if var["type"] != "query" {
            continue;
        }
        let query = var["query"]["query"].as_str().or(var["query"].as_str()).unwrap_or_default();
        out.push((format!("templating.list[{i}] ({}).query", var["name"]), query.to_string()));
    }
    out
}

/// `label_values(sel, label)` is Grafana's, not PromQL: checks it as `sum by (label) (sel)`.
fn as_promql(expr: &str) -> String {
    let re = regex::Regex::new(r"^\s*label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$").unwrap();
    match re.captures(expr) {
        Some(c) => format!("sum by ({}) ({})", &c[2], &c[1]),
        None => expr.to_string(),
    }
}

fn check_dashboard(exported: &Exported, text: &str) -> Vec<String> {
    let dashboard: Json = match serde_json::from_str(text) {
        Ok(d) => d,
        Err(e) => return vec![format!("{DASHBOARD}: not JSON: {e}")],
    };
    let mut problems = Vec::new();
    for field in ["uid", "title"] {
        if dashboard[field].as_str().is_none_or(str::is_empty) {
            problems.push(format!("{DASHBOARD}: no {field}"));
        }
    }
    let variables = dashboard["templating"]["list"].as_array().cloned().unwrap_or_default();
    if !variables.iter().any(|v| v["type"] == "datasource" && v["name"] == "datasource") {
        problems.push(format!("{DASHBOARD}: no `datasource` template variable for the panels to use"));
    }
    let mut ids = BTreeSet::new();
    let mut panels: Vec<&Json> = dashboard["panels"].as_array().map(|p| p.iter().collect()).unwrap_or_default();
    // Collapsed rows hold their panels.
    let nested: Vec<&Json> = panels.iter().filter_map(|p| p["panels"].as_array()).flatten().collect();
    panels.extend(nested);
    for p in &panels {
        let name = format!("{DASHBOARD} panel {} ({})", p["id"], p["title"]);
        if !p["id"].is_u64() || !ids.insert(p["id"].as_u64()) {
            problems.push(format!("{name}: missing or duplicate id"));
        }
        let (x, w) = (p["gridPos"]["x"].as_u64(), p["gridPos"]["w"].as_u64());
        if !matches!((x, w), (Some(x), Some(w)) if w > 0 && x + w <= 24) || !p["gridPos"]["y"].is_u64() {
            problems.push(format!("{name}: gridPos must have x + w <= 24 and y"));
        }
        if p["type"] == "row" {
            continue;
        }
        let targets = p["targets"].as_array().cloned().unwrap_or_default();
        if targets.is_empty() {
            problems.push(format!("{name}: no targets"));
        }
        let mut refs = BTreeSet::new();
        for t in &targets {
            if !refs.insert(t["refId"].as_str().unwrap_or_default().to_string()) {
                problems.push(format!("{name}: duplicate or missing refId"));
            }
            if t["datasource"]["uid"] != "${datasource}" || p["datasource"]["uid"] != "${datasource}" {
                problems.push(format!("{name}: must use the ${{datasource}} variable"));
            }
        }
    }
    let mut used = BTreeSet::new();
    for (place, expr) in dashboard_exprs(&dashboard) {
        let expr = as_promql(&expr);
        problems.extend(check_expr(exported, &BTreeSet::new(), &format!("{DASHBOARD} {place}"), &expr));
        if let Ok(names) = extract(&expr) {
            used.extend(names.selectors.iter().filter_map(|s| exported.family_of(&s.metric)).map(String::from));
        }
    }
    for family in exported.families.keys().filter(|f| !used.contains(*f)) {
        problems.push(format!("{DASHBOARD}: no panel shows {family}; add one"));
    }
    problems
}

fn check_rules(exported: &Exported, text: &str) -> Vec<String> {
    let doc: Yaml = match serde_yaml::from_str(text) {
        Ok(d) => d,
        Err(e) => return vec![format!("{RULES}: not YAML: {e}")],
    };
    let mut problems = Vec::new();
    let str_at = |v: &Yaml, key: &str| v.get(key).and_then(Yaml::as_str).map(String::from);
    if str_at(&doc, "apiVersion").as_deref() != Some("monitoring.coreos.com/v1") {
        problems.push(format!("{RULES}: apiVersion must be monitoring.coreos.com/v1"));
    }
    if str_at(&doc, "kind").as_deref() != Some("PrometheusRule") {
        problems.push(format!("{RULES}: kind must be PrometheusRule"));
    }
    if doc.get("metadata").and_then(|m| str_at(m, "name")).is_none_or(|n| n.is_empty()) {
        problems.push(format!("{RULES}: metadata.name is missing"));
    }
    let groups = doc.get("spec").and_then(|s| s.get("groups")).and_then(Yaml::as_sequence).cloned().unwrap_or_default();
    if groups.is_empty() {
        problems.push(format!("{RULES}: spec.groups is missing or empty"));
    }
    let duration = regex::Regex::new(r"^([0-9]+(ms|s|m|h|d|w|y))+$").unwrap();
    let label_ref = regex::Regex::new(r"\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)").unwrap();
    let recorded: BTreeSet<String> = groups
        .iter()
        .flat_map(|g| g.get("rules").and_then(Yaml::as_sequence).cloned().unwrap_or_default())
        .filter_map(|r| str_at(&r, "record"))
        .collect();
    let (mut group_names, mut alerts) = (BTreeSet::new(), BTreeSet::new());
    for (gi, group) in groups.iter().enumerate() {
        let gplace = format!("{RULES} spec.groups[{gi}]");
        match str_at(group, "name") {
            Some(n) if !n.is_empty() && group_names.insert(n.clone()) => {}
            _ => problems.push(format!("{gplace}.name: missing or not unique")),
        }
        let rules = group.get("rules").and_then(Yaml::as_sequence).cloned().unwrap_or_default();
        if rules.is_empty() {
            problems.push(format!("{gplace}.rules: missing or empty"));
        }
        for (ri, rule) in rules.iter().enumerate() {
            let alert = str_at(rule, "alert");
            let place =
                format!("{gplace}.rules[{ri}]{}", alert.as_deref().map(|a| format!(" ({a})")).unwrap_or_default());
            let Some(map) = rule.as_mapping() else {
                problems.push(format!("{place}: not a mapping"));
                continue;
            };
            for key in map.keys().filter_map(Yaml::as_str) {
                if !["alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"].contains(&key) {
                    problems.push(format!("{place}: unknown field {key:?}"));
                }
            }
            if alert.is_some() == rule.get("record").is_some() {
                problems.push(format!("{place}: needs exactly one of alert and record"));
            }
            let Some(expr) = str_at(rule, "expr").filter(|e| !e.trim().is_empty()) else {
                problems.push(format!("{place}.expr: missing"));
                continue;
            };
            problems.extend(check_expr(exported, &recorded, &format!("{place}.expr"), &expr));
            for key in ["for", "keep_firing_for"] {
                if let Some(d) = rule.get(key).filter(|d| !d.as_str().is_some_and(|d| duration.is_match(d))) {
                    problems.push(format!("{place}.{key}: {d:?} is not a duration"));
                }
            }
            let Some(alert) = alert else { continue };
            if !alerts.insert(alert.clone()) {
                problems.push(format!("{place}: alert {alert} is defined twice"));
            }
            let severity = rule.get("labels").and_then(|l| str_at(l, "severity"));
            if !matches!(severity.as_deref(), Some("critical" | "warning" | "info")) {
                problems.push(format!("{place}.labels.severity: must be critical, warning or info, is {severity:?}"));
            }
            let annotations = rule.get("annotations");
            let summary = annotations.and_then(|a| str_at(a, "summary"));
            if summary.as_deref().is_none_or(|s| s.trim().is_empty()) {
                problems.push(format!("{place}.annotations.summary: missing"));
            }
            // `$labels.x` in a message is empty unless the alert's series keeps label x: with
            // `by (...)` those are the grouping labels (without `by`, `without` keeps more).
            let grouping = extract(&expr).map(|n| n.grouping).unwrap_or_default();
            let texts = annotations.and_then(Yaml::as_mapping).into_iter().flatten().filter_map(|(_, v)| v.as_str());
            for text in texts {
                for c in label_ref.captures_iter(text) {
                    if !expr.contains("without") && !grouping.iter().any(|g| g == &c[1]) {
                        problems.push(format!("{place}.annotations: $labels.{} is not kept by the expression", &c[1]));
                    }
                }
            }
        }
    }
    for missing in REQUIRED_ALERTS.iter().filter(|a| !alerts.contains(**a)) {
        problems.push(format!("{RULES}: alert {missing} is missing"));
    }
    problems
}

fn assert_no_problems(problems: Vec<String>) {
    assert!(problems.is_empty(), "{} problem(s):\n{}", problems.len(), problems.join("\n"));
}

// ---------------------------------------------------------------------------------------------

#[test]
fn the_dashboard_uses_only_exported_metrics_and_shows_each() {
    assert_no_problems(check_dashboard(&exported(), &read(DASHBOARD)));
}

#[test]
fn the_alerts_use_only_exported_metrics_and_are_well_formed() {
    assert_no_problems(check_rules(&exported(), &read(RULES)));
}

/// The pod labels and container port names of the Helm chart's operator pods with the default
/// values, read from its templates: selectorLabels' `{{ default .Chart.Name ... }}` is the chart's
/// name; a value from `.Release` differs per release, so a selector may not require it.
fn chart_pod_labels_and_ports() -> (BTreeMap<String, Option<String>>, Vec<String>) {
    let chart: Yaml = serde_yaml::from_str(&read("deploy/helm/ecs-operator/Chart.yaml")).expect("Chart.yaml");
    let chart_name = chart["name"].as_str().expect("Chart.yaml name").to_string();
    let helpers = read("deploy/helm/ecs-operator/templates/_helpers.tpl");
    let define = helpers.split("{{- define \"ecs-operator.selectorLabels\" -}}").nth(1).expect("selectorLabels");
    let body = &define[..define.find("{{- end").expect("end of selectorLabels")];
    let labels = body
        .lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| {
            let value = if v.contains(".Chart.Name") {
                Some(chart_name.clone())
            } else if v.contains("{{") {
                None
            } else {
                Some(v.trim().to_string())
            };
            (k.trim().to_string(), value)
        })
        .collect();
    let deployment = read("deploy/helm/ecs-operator/templates/deployment.yaml");
    assert!(
        deployment.contains("include \"ecs-operator.selectorLabels\""),
        "the chart's pods no longer carry selectorLabels: update this test and podmonitor.yaml"
    );
    let port = regex::Regex::new(r"(?m)^\s*- name: ([a-z0-9-]+)\n\s*containerPort:").unwrap();
    (labels, port.captures_iter(&deployment).map(|c| c[1].to_string()).collect())
}

#[test]
fn the_pod_monitors_select_the_operator_pods_and_port() {
    let monitors: Vec<Yaml> = serde_yaml::Deserializer::from_str(&read(POD_MONITOR))
        .map(|d| serde::Deserialize::deserialize(d).expect("podmonitor.yaml is YAML"))
        .collect();
    // Pod labels (None: any value) and port names of each way to install.
    let operator: Yaml = serde_yaml::from_str(&read("deploy/operator.yaml")).expect("deploy/operator.yaml is YAML");
    let template = &operator["spec"]["template"];
    let plain_labels: BTreeMap<String, Option<String>> = template["metadata"]["labels"]
        .as_mapping()
        .expect("pod labels")
        .iter()
        .map(|(k, v)| (k.as_str().unwrap().to_string(), v.as_str().map(String::from)))
        .collect();
    let plain_ports: Vec<String> = template["spec"]["containers"]
        .as_sequence()
        .into_iter()
        .flatten()
        .flat_map(|c| c["ports"].as_sequence().into_iter().flatten())
        .filter_map(|p| p["name"].as_str().map(String::from))
        .collect();
    let installs =
        [("deploy/operator.yaml", (plain_labels, plain_ports)), ("the Helm chart", chart_pod_labels_and_ports())];
    for (install, (labels, ports)) in &installs {
        let selecting: Vec<&Yaml> = monitors
            .iter()
            .filter(|m| {
                let selector = m["spec"]["selector"]["matchLabels"].as_mapping().expect("spec.selector.matchLabels");
                !selector.is_empty()
                    && selector.iter().all(|(k, v)| {
                        labels
                            .get(k.as_str().unwrap())
                            .is_some_and(|have| have.is_some() && have.as_deref() == v.as_str())
                    })
            })
            .collect();
        assert_eq!(
            selecting.len(),
            1,
            "{POD_MONITOR}: exactly one PodMonitor must select the pods of {install} ({labels:?})"
        );
        let m = selecting[0];
        assert_eq!(m["apiVersion"].as_str(), Some("monitoring.coreos.com/v1"));
        assert_eq!(m["kind"].as_str(), Some("PodMonitor"));
        let endpoints = m["spec"]["podMetricsEndpoints"].as_sequence().expect("spec.podMetricsEndpoints");
        assert!(!endpoints.is_empty());
        for e in endpoints {
            let port = e["port"].as_str().expect("podMetricsEndpoints[].port");
            assert!(ports.iter().any(|p| p == port), "port {port:?} is not a container port of {install} ({ports:?})");
            assert_eq!(e["path"].as_str(), Some("/metrics"));
        }
    }
}

// The checks must be able to fail: each mutation below breaks one name and must be reported.

#[test]
fn the_extractor_tells_metrics_from_functions_labels_and_variables() {
    let names = extract(
        r#"histogram_quantile(0.99, sum by (plugin, le) (rate(m_bucket{namespace=~"$namespace", a!="x{y}"}[$__rate_interval])))
           / on(pod) group_left max without (z) (other offset 15m) > bool 1e-3 or absent(third) # not_a_metric
           + label_replace(vector(1), "dst", "ecs_operator_in_a_string", "", "") unless {__name__="by_name", b='q'}"#,
    )
    .unwrap();
    let selectors: Vec<(&str, Vec<&str>)> =
        names.selectors.iter().map(|s| (s.metric.as_str(), s.labels.iter().map(String::as_str).collect())).collect();
    assert_eq!(
        selectors,
        [
            ("m_bucket", vec!["namespace", "a"]),
            ("other", vec![]),
            ("third", vec![]),
            ("by_name", vec!["__name__", "b"]),
        ]
    );
    assert_eq!(names.grouping, ["plugin", "le", "pod", "z"]);
    assert!(extract(r#"rate(m{a="x}[5m])"#).is_err(), "an unterminated string is an error");
    assert!(extract(r#"rate(m{a}[5m])"#).is_err(), "a matcher without operator is an error");
    assert!(extract(r#"sum(rate(m[5m"#).is_err(), "an unclosed range is an error");
}

#[test]
fn a_misspelled_metric_or_label_is_reported() {
    let exported = exported();
    let rules = read(RULES);
    let dashboard = read(DASHBOARD);
    let mutations = [
        // A typo in the family name.
        ("ecs_operator_reconciles_total", "ecs_operator_reconcile_total", "ecs_operator_reconcile_total"),
        // A counter queried without its `_total` (the family name is no series).
        ("ecs_operator_plugin_load_failures_total", "ecs_operator_plugin_load_failures", "query [\""),
        // A gauge queried as if it were a counter.
        ("ecs_operator_clusters_not_ready", "ecs_operator_clusters_not_ready_total", "clusters_not_ready_total"),
        // A label the metric does not have.
        ("result=~", "reason=~", "no label \"reason\""),
    ];
    for (from, to, reported) in mutations {
        for (file, text, check) in [
            (RULES, &rules, check_rules as fn(&Exported, &str) -> Vec<String>),
            (DASHBOARD, &dashboard, check_dashboard),
        ] {
            assert!(text.contains(from), "{file} no longer contains {from:?}: update this test");
            let problems = check(&exported, &text.replacen(from, to, 1));
            assert!(
                problems.iter().any(|p| p.contains(reported)),
                "{file} with {from:?} -> {to:?}: expected a problem naming {reported:?}, got {problems:?}"
            );
        }
    }
    // A grouping label that no metric has, and an alert template naming a label the alert drops.
    let by = rules.replacen("by (namespace, plugin, fault)", "by (namespace, plugin, faults)", 1);
    assert!(check_rules(&exported, &by).iter().any(|p| p.contains("groups by \"faults\"")));
    assert!(check_rules(&exported, &by).iter().any(|p| p.contains("$labels.fault is not kept")));
    let no_severity = rules.replacen("severity: warning", "team: ecs", 1);
    assert!(check_rules(&exported, &no_severity).iter().any(|p| p.contains("labels.severity")));
    let no_summary = rules.replacen("summary:", "summry:", 1);
    assert!(check_rules(&exported, &no_summary).iter().any(|p| p.contains("annotations.summary")));
}

#[test]
fn an_exported_family_without_a_panel_is_reported() {
    let mut exported = exported();
    exported.families.insert("ecs_operator_new_thing".into(), "gauge".into());
    exported.series.insert("ecs_operator_new_thing".into(), BTreeSet::new());
    let problems = check_dashboard(&exported, &read(DASHBOARD));
    assert_eq!(problems, [format!("{DASHBOARD}: no panel shows ecs_operator_new_thing; add one")]);
}
