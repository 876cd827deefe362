//! Units people write in `clubhost.toml`: sizes ("100MiB") and durations ("90s").

/// Sizes as a number of bytes or a string like "100MiB", "512KiB", "1GB".
pub(super) mod byte_size {
    use serde::{Deserialize, Deserializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(u64),
        Text(String),
    }

    pub(crate) fn parse(text: &str) -> Option<u64> {
        let t = text.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let n: u64 = num.parse().ok()?;
        let mult: u64 = match unit.trim() {
            "" | "B" => 1,
            "KiB" => 1 << 10,
            "MiB" => 1 << 20,
            "GiB" => 1 << 30,
            "KB" | "kB" => 1_000,
            "MB" => 1_000_000,
            "GB" => 1_000_000_000,
            _ => return None,
        };
        n.checked_mul(mult)
    }

    pub(crate) fn some<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        deserialize(d).map(Some)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(n),
            Raw::Text(t) => parse(&t).ok_or_else(|| {
                serde::de::Error::custom(format!("{t:?} is not a size like \"100MiB\""))
            }),
        }
    }
}

/// Durations written the way people write them ("90s", "2m") in TOML strings.
pub(super) mod humantime_serde_compat {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub(crate) fn some<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        deserialize(d).map(Some)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map_err(|e| {
            serde::de::Error::custom(format!("{text:?} is not a duration like \"90s\": {e}"))
        })
    }
}
