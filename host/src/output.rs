//! Printing rendered objects: multi-document YAML, a kubectl-style JSON `List`, or a table.

use serde_json::{Value, json};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Yaml,
    Json,
    /// `KIND  NAME  NAMESPACE  COMPONENT`, one object per line.
    Table,
}

pub fn yaml(objects: &[Value]) -> String {
    let mut out = String::new();
    for o in objects {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(o).expect("JSON values always serialize to YAML"));
    }
    out
}

pub fn json(objects: &[Value]) -> String {
    let list = json!({"apiVersion": "v1", "kind": "List", "items": objects});
    let mut s = serde_json::to_string_pretty(&list).expect("JSON values always serialize");
    s.push('\n');
    s
}

pub fn table(objects: &[Value]) -> String {
    let rows: Vec<[String; 4]> = objects
        .iter()
        .map(|o| {
            let s = |p: &str| o.pointer(p).and_then(Value::as_str).unwrap_or("").to_string();
            let group = s("/apiVersion").split_once('/').map(|(g, _)| format!(".{g}")).unwrap_or_default();
            [
                format!("{}{group}", s("/kind").to_lowercase()),
                s("/metadata/name"),
                o.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("<cluster>").to_string(),
                s("/metadata/labels/component"),
            ]
        })
        .collect();
    let header = ["KIND", "NAME", "NAMESPACE", "COMPONENT"].map(String::from);
    let mut widths = [0usize; 4];
    for row in std::iter::once(&header).chain(&rows) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = row.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
        out.push_str(line.join("   ").trim_end());
        out.push('\n');
    }
    out
}

pub fn render(objects: &[Value], format: Format) -> String {
    match format {
        Format::Yaml => yaml(objects),
        Format::Json => json(objects),
        Format::Table => table(objects),
    }
}
