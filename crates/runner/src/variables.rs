//! Spin variables: name rules, `{{ var }}` templates and resolution.
//!
//! Application variables are resolved once at start, in Spin's provider
//! order: `--variable` on the command line, then the environment
//! (`SPIN_VARIABLE_<UPPER_NAME>`), then the manifest default. A required
//! variable without a value stops the start.

use std::collections::{BTreeMap, HashMap};

use crate::manifest::VariableDecl;

/// Checks a variable name against Spin's rules: lower-case ASCII letters,
/// digits and `_`, starting with a letter, not ending with `_`, no `__`.
pub fn validate_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    match chars.next() {
        None => return Err("variable name must not be empty".into()),
        Some(c) if !c.is_ascii_lowercase() => {
            return Err(format!(
                "invalid variable name {name:?}: must start with a lowercase ASCII letter"
            ))
        }
        Some(_) => {}
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(format!(
            "invalid variable name {name:?}: only lowercase ASCII letters, digits and '_' are allowed"
        ));
    }
    if name.ends_with('_') {
        return Err(format!(
            "invalid variable name {name:?}: must not end with '_'"
        ));
    }
    if name.contains("__") {
        return Err(format!(
            "invalid variable name {name:?}: must not contain '__'"
        ));
    }
    Ok(())
}

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Variable(String),
}

/// Splits `text` into literal text and `{{ name }}` references.
fn parse_template(text: &str) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            parts.push(Part::Literal(rest[..start].to_string()));
        }
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("unterminated '{{{{' in template {text:?}"))?;
        let name = after[..end].trim();
        validate_name(name).map_err(|e| format!("in template {text:?}: {e}"))?;
        parts.push(Part::Variable(name.to_string()));
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        parts.push(Part::Literal(rest.to_string()));
    }
    Ok(parts)
}

/// The resolved application variables.
#[derive(Debug, Clone, Default)]
pub struct Resolver {
    values: HashMap<String, String>,
}

impl Resolver {
    /// Resolves every declared application variable.
    ///
    /// `cli` are `--variable` values, `env` looks up environment variables
    /// (pass `|_| None` to ignore the environment).
    pub fn new(
        decls: &BTreeMap<String, VariableDecl>,
        cli: &[(String, String)],
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, String> {
        for (k, _) in cli {
            if !decls.contains_key(k) {
                return Err(format!(
                    "--variable {k}: no application variable named {k:?} in [variables]"
                ));
            }
        }
        let mut values = HashMap::new();
        for (name, decl) in decls {
            let from_cli = cli
                .iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone());
            let from_env = || env(&format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase()));
            let value = from_cli.or_else(from_env).or_else(|| decl.default.clone());
            match value {
                Some(v) => {
                    values.insert(name.clone(), v);
                }
                None => {
                    return Err(format!(
                        "required variable {name:?} has no value (set it with --variable {name}=... or SPIN_VARIABLE_{})",
                        name.to_ascii_uppercase()
                    ))
                }
            }
        }
        Ok(Self { values })
    }

    /// Expands `{{ var }}` references to application variables.
    pub fn expand(&self, template: &str) -> Result<String, String> {
        let mut out = String::new();
        for part in parse_template(template)? {
            match part {
                Part::Literal(s) => out.push_str(&s),
                Part::Variable(name) => match self.values.get(&name) {
                    Some(v) => out.push_str(v),
                    None => {
                        return Err(format!(
                            "template {template:?} refers to {name:?}, which is not in [variables]"
                        ))
                    }
                },
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decls(items: &[(&str, Option<&str>)]) -> BTreeMap<String, VariableDecl> {
        items
            .iter()
            .map(|(k, d)| {
                (
                    k.to_string(),
                    VariableDecl {
                        default: d.map(str::to_string),
                        required: d.is_none(),
                        ..Default::default()
                    },
                )
            })
            .collect()
    }

    #[test]
    fn names_follow_spin_rules() {
        assert!(validate_name("api_key").is_ok());
        assert!(validate_name("a").is_ok());
        assert!(validate_name("a1").is_ok());
        assert!(validate_name("Api").is_err());
        assert!(validate_name("1a").is_err());
        assert!(validate_name("a__b").is_err());
        assert!(validate_name("a_").is_err());
        assert!(validate_name("a-b").is_err());
        assert!(validate_name("").is_err());
    }

    #[test]
    fn cli_beats_environment_beats_default() {
        let d = decls(&[
            ("x", Some("default")),
            ("y", Some("default")),
            ("z", Some("default")),
        ]);
        let r = Resolver::new(&d, &[("x".into(), "cli".into())], |k| {
            (k == "SPIN_VARIABLE_X" || k == "SPIN_VARIABLE_Y").then(|| "env".to_string())
        })
        .unwrap();
        assert_eq!(r.expand("{{x}}/{{ y }}/{{z}}").unwrap(), "cli/env/default");
    }

    #[test]
    fn missing_required_variable_stops_the_start() {
        let d = decls(&[("secret", None)]);
        assert!(Resolver::new(&d, &[], |_| None).is_err());
    }

    #[test]
    fn template_with_undeclared_variable_is_an_error() {
        let r = Resolver::new(&decls(&[]), &[], |_| None).unwrap();
        assert!(r.expand("{{ nope }}").is_err());
        assert_eq!(r.expand("plain").unwrap(), "plain");
    }
}
