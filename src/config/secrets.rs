//! Secrets never leave the process (docs/operating-limits.md). Which keys are secret (a key naming a password,
//! secret, token, key, credential, JAAS or OAuth config), and a process-wide list of the secret
//! values seen in the configuration file and the environment, so that every text that can echo
//! one — a TOML parse error quoting its line, a type error quoting its value, a Kafka client error
//! — is redacted before it is logged or printed.

use std::borrow::Cow;
use std::sync::{OnceLock, RwLock};

/// What replaces a secret value.
pub const REDACTED: &str = "<redacted>";

fn registry() -> &'static RwLock<Vec<String>> {
    static VALUES: OnceLock<RwLock<Vec<String>>> = OnceLock::new();
    VALUES.get_or_init(|| RwLock::new(Vec::new()))
}

/// Whether a configuration key (any spelling: `sasl.password`, `SASL_PASSWORD`,
/// `NETKPI__KAFKA__PROPERTIES__SASL.PASSWORD`) names a secret.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    [
        "password",
        "passwd",
        "secret",
        "key",
        "token",
        "credential",
        "jaas",
        "oauth",
    ]
    .iter()
    .any(|w| k.contains(w))
        && !k.ends_with(".location")
        && !k.contains("algorithm")
}

/// Remembers secret values (empty and one-character values are ignored: they would redact
/// everything and protect nothing).
pub fn register<I: IntoIterator<Item = String>>(values: I) {
    let Ok(mut list) = registry().write() else {
        return;
    };
    for v in values {
        let v = v.trim().to_string();
        if v.chars().count() > 1 && !list.contains(&v) {
            list.push(v);
        }
    }
    // Longest first, so that a secret containing another is replaced whole.
    list.sort_by_key(|v| std::cmp::Reverse(v.len()));
}

/// Registers the values of secret keys in TOML text (line by line, so it also works on a file
/// that does not parse) and in `NETKPI__…` environment variables.
pub fn register_from_text_and_env(text: &str) {
    let mut found = Vec::new();
    for line in text.lines() {
        if let Some((key, value)) = line.split_once('=')
            && is_secret_key(key)
        {
            let value = value.trim().trim_end_matches(',').trim();
            let unquoted = value
                .trim_matches(|c| c == '"' || c == '\'')
                .trim_end_matches('}')
                .trim_matches(|c| c == '"' || c == '\'');
            found.push(unquoted.to_string());
            found.push(value.to_string());
        }
    }
    for (key, value) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.to_ascii_uppercase().starts_with("NETKPI") && is_secret_key(&key) {
            found.push(value.to_string_lossy().into_owned());
        }
    }
    register(found);
}

/// `text` with every registered secret value replaced by [`REDACTED`].
pub fn redact(text: &str) -> Cow<'_, str> {
    let Ok(list) = registry().read() else {
        return Cow::Borrowed(text);
    };
    let mut out = Cow::Borrowed(text);
    for v in list.iter() {
        if out.contains(v.as_str()) {
            out = Cow::Owned(out.replace(v.as_str(), REDACTED));
        }
    }
    out
}

/// A parser error without the source lines it quotes (`12 | key = "value"`): the quoted line
/// may hold a secret that the parser could not even tell was one.
pub fn without_quoted_source(message: &str) -> String {
    let kept: Vec<&str> = message
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            let digits = t.trim_start_matches(|c: char| c.is_ascii_digit());
            !(digits.trim_start().starts_with('|'))
        })
        .collect();
    redact(&kept.join("\n")).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_keys_in_every_spelling() {
        for k in [
            "sasl.password",
            "ssl.key.password",
            "SASL_PASSWORD",
            "sasl.jaas.config",
            "sasl.oauthbearer.config",
            "schema_registry_token",
            "NETKPI__KAFKA__PROPERTIES__SASL.PASSWORD",
        ] {
            assert!(is_secret_key(k), "{k}");
        }
        for k in [
            "ssl.key.location",
            "ssl.endpoint.identification.algorithm",
            "bootstrap.servers",
        ] {
            assert!(!is_secret_key(k), "{k}");
        }
    }

    #[test]
    fn quoted_source_lines_go_and_values_are_redacted() {
        register_from_text_and_env("[kafka.properties]\n\"sasl.password\" = \"hunter2-xyz\n");
        let msg = "TOML parse error at line 2, column 19\n  |\n2 | \"sasl.password\" = \"hunter2-xyz\n  |                   ^\ninvalid basic string";
        let clean = without_quoted_source(msg);
        assert!(!clean.contains("hunter2"), "{clean}");
        assert!(clean.contains("line 2"), "{clean}");
        assert_eq!(
            redact("auth failed for hunter2-xyz"),
            "auth failed for <redacted>"
        );
    }
}
