//! `${VAR}` and `${VAR:-default}` in string values, taken from the environment so that secrets
//! never sit in the file. `$$` writes a literal `$`. Interpolation runs on parsed string values,
//! never on the raw text, so a value from the environment cannot change the file's structure.

/// Replaces every `${...}` in `text` using `lookup`; an unset variable without a default is an
/// error naming it.
pub(super) fn interpolate(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body
                .find('}')
                .ok_or_else(|| format!("unclosed `${{` in `{text}`"))?;
            out.push_str(&expand(&body[..end], lookup)?);
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn expand(expr: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let (name, default) = match expr.split_once(":-") {
        Some((name, default)) => (name, Some(default)),
        None => (expr, None),
    };
    let valid = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if !valid {
        return Err(format!("`${{{expr}}}` is not a valid variable reference"));
    }
    match (lookup(name).filter(|v| !v.is_empty()), default) {
        (Some(value), _) => Ok(value),
        (None, Some(default)) => Ok(default.to_string()),
        (None, None) => Err(format!("environment variable `{name}` is not set")),
    }
}

/// Interpolates every string in a TOML tree; errors carry the dotted key path.
pub(super) fn interpolate_tree(
    value: &mut toml::Value,
    path: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    errors: &mut Vec<(String, String)>,
) {
    match value {
        toml::Value::String(text) => match interpolate(text, lookup) {
            Ok(expanded) => *text = expanded,
            Err(problem) => errors.push((path.to_string(), problem)),
        },
        toml::Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                interpolate_tree(item, &format!("{path}[{i}]"), lookup, errors);
            }
        }
        toml::Value::Table(table) => {
            for (key, item) in table.iter_mut() {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                interpolate_tree(item, &child, lookup, errors);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "TOKEN" => Some("abc".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn replaces_set_variables_and_defaults() {
        assert_eq!(interpolate("t=${TOKEN}!", &env).unwrap(), "t=abc!");
        assert_eq!(interpolate("${NOPE:-x:y}", &env).unwrap(), "x:y");
        assert_eq!(interpolate("${EMPTY:-d}", &env).unwrap(), "d");
        assert_eq!(interpolate("${NOPE:-}", &env).unwrap(), "");
        assert_eq!(
            interpolate("cost $5 $$ ${TOKEN}", &env).unwrap(),
            "cost $5 $ abc"
        );
    }

    #[test]
    fn names_the_missing_variable() {
        let err = interpolate("${NOPE}", &env).unwrap_err();
        assert!(err.contains("`NOPE` is not set"), "{err}");
    }

    #[test]
    fn rejects_malformed_references() {
        assert!(interpolate("${TOKEN", &env).is_err());
        assert!(interpolate("${}", &env).is_err());
        assert!(interpolate("${A B}", &env).is_err());
    }
}
