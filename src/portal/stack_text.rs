//! The normalized stack as a person reads it: indented `key: value` lines, sizes in MiB/GiB, CPU
//! in CPUs, durations in seconds, and nothing that says "not set" (no nulls, empty lists or
//! `false` flags). What the review card and the request form show; the stack's own JSON stays
//! the deployer's business.

use std::fmt::Write;

use serde_json::{Map, Value};

use clubhost_stack::Stack;

/// `stack` as indented lines, services first, each under its name.
pub fn readable(stack: &Stack) -> String {
    let Ok(Value::Object(top)) = serde_json::to_value(stack) else {
        return String::new();
    };
    let mut out = String::new();
    if let Some(Value::Object(expose)) = top.get("expose") {
        let service = expose.get("service").and_then(Value::as_str).unwrap_or("");
        let port = expose.get("port").map(Value::to_string).unwrap_or_default();
        let _ = writeln!(out, "visitors reach: {service}, port {port}");
    }
    if let Some(Value::Array(services)) = top.get("services") {
        out.push_str("services:\n");
        for s in services {
            let Value::Object(fields) = s else { continue };
            let name = fields.get("name").and_then(Value::as_str).unwrap_or("?");
            let _ = writeln!(out, "  {name}:");
            write_map(&mut out, fields, 2, &["name"]);
        }
    }
    for key in ["volumes", "networks"] {
        if let Some(v) = top.get(key).filter(|v| !is_empty(v)) {
            write_entry(&mut out, key, v, 0);
        }
    }
    out
}

fn write_map(out: &mut String, map: &Map<String, Value>, depth: usize, skip: &[&str]) {
    for (k, v) in map {
        if skip.contains(&k.as_str()) || is_empty(v) {
            continue;
        }
        write_entry(out, k, v, depth);
    }
}

fn write_entry(out: &mut String, key: &str, v: &Value, depth: usize) {
    let pad = "  ".repeat(depth);
    let key = match key {
        "memory_bytes" => "memory",
        "nano_cpus" => "cpus",
        "pids" => "processes",
        "max_size_bytes" => "max_size",
        k => k,
    };
    if let Some(text) = unit_text(key, v) {
        let _ = writeln!(out, "{pad}{key}: {text}");
        return;
    }
    match v {
        Value::Object(m) => {
            let _ = writeln!(out, "{pad}{key}:");
            write_map(out, m, depth + 1, &[]);
        }
        Value::Array(items) if items.iter().all(is_scalar) => {
            let list: Vec<String> = items.iter().map(scalar).collect();
            let _ = writeln!(out, "{pad}{key}: {}", list.join(", "));
        }
        Value::Array(items) => {
            let _ = writeln!(out, "{pad}{key}:");
            for item in items {
                match item {
                    Value::Object(m) => {
                        let line: Vec<String> = m
                            .iter()
                            .filter(|(_, v)| !is_empty(v))
                            .map(|(k, v)| match unit_text(k, v) {
                                Some(t) => format!("{k} {t}"),
                                None => format!("{k} {}", scalar(v)),
                            })
                            .collect();
                        let _ = writeln!(out, "{pad}  - {}", line.join(", "));
                    }
                    other => {
                        let _ = writeln!(out, "{pad}  - {}", scalar(other));
                    }
                }
            }
        }
        other => {
            let _ = writeln!(out, "{pad}{key}: {}", scalar(other));
        }
    }
}

/// A value in units, for the keys that carry bytes, CPUs or a duration.
fn unit_text(key: &str, v: &Value) -> Option<String> {
    match key {
        "memory" | "shm_size" | "max_size" => v.as_i64().map(bytes),
        "cpus" => v.as_i64().map(|n| {
            let cpus = n as f64 / 1e9;
            format!("{} CPU", trim_float(cpus))
        }),
        _ => {
            // A std Duration serializes as {secs, nanos}.
            let m = v.as_object()?;
            let (secs, nanos) = (m.get("secs")?.as_u64()?, m.get("nanos")?.as_u64()?);
            (m.len() == 2).then(|| format!("{} s", trim_float(secs as f64 + nanos as f64 / 1e9)))
        }
    }
}

/// 268435456 → "256 MiB"; 1610612736 → "1.5 GiB".
fn bytes(n: i64) -> String {
    const UNITS: [&str; 4] = ["bytes", "KiB", "MiB", "GiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{} {}", trim_float(value), UNITS[unit])
}

/// 0.5 → "0.5", 2.0 → "2", 0.333… → "0.33".
fn trim_float(x: f64) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(false) => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

fn is_scalar(v: &Value) -> bool {
    !matches!(v, Value::Array(_) | Value::Object(_))
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_cpus_and_durations_read_in_units() {
        assert_eq!(bytes(268_435_456), "256 MiB");
        assert_eq!(bytes(1_610_612_736), "1.5 GiB");
        assert_eq!(bytes(512), "512 bytes");
        assert_eq!(
            unit_text("cpus", &Value::from(500_000_000i64)).as_deref(),
            Some("0.5 CPU")
        );
        let d = serde_json::json!({"secs": 10, "nanos": 0});
        assert_eq!(unit_text("interval", &d).as_deref(), Some("10 s"));
    }

    #[test]
    fn a_parsed_stack_reads_without_nulls_or_raw_numbers() {
        let file = "services:\n  web:\n    image: nginx:1\n    mem_limit: 256m\n    cpus: 0.5\nx-clubhost:\n  expose: web\n  port: 80\n";
        let stack = clubhost_stack::parse(file).expect("the example stack is accepted");
        let text = readable(&stack);
        assert!(text.contains("memory: 256 MiB"), "{text}");
        assert!(text.contains("cpus: 0.5 CPU"), "{text}");
        assert!(text.contains("visitors reach: web, port 80"), "{text}");
        assert!(!text.contains("null"), "{text}");
        assert!(!text.contains("268435456"), "{text}");
        assert!(!text.contains("false"), "{text}");
    }
}
