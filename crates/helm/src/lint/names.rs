//! Is `metadata.name` a name the API server would take for this kind? The
//! rules and the wording are Kubernetes' own (k8s.io/apimachinery's
//! validation, as helm's lint calls it): most kinds want a DNS-1123
//! subdomain, Services a DNS-1035 label, Namespaces a DNS-1123 label, RBAC
//! kinds anything that fits in a URL path segment.

use std::sync::LazyLock;

use regex::Regex;

use crate::template::gofmt::quote;

const DNS1123_LABEL: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1035_LABEL: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";

fn dns1123_subdomain_fmt() -> String {
    format!("{DNS1123_LABEL}(\\.{DNS1123_LABEL})*")
}

static LABEL_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!("^{DNS1123_LABEL}$")).unwrap());
static SUBDOMAIN_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!("^{}$", dns1123_subdomain_fmt())).unwrap());
static DNS1035_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!("^{DNS1035_LABEL}$")).unwrap());

/// Kubernetes' `RegexError`: the message, examples, the pattern.
fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    let mut m = format!("{msg} (e.g. ");
    for (i, e) in examples.iter().enumerate() {
        if i > 0 {
            // Kubernetes writes "'a',  or 'b'" (two spaces), and so do we
            m.push_str(" or ");
        }
        m.push_str(&format!("'{e}', "));
    }
    m.push_str(&format!("regex used for validation is '{fmt}')"));
    m
}

fn max_len(n: usize) -> String {
    format!("must be no more than {n} characters")
}

fn dns1123_subdomain(name: &str) -> Vec<String> {
    let mut errs = vec![];
    if name.len() > 253 {
        errs.push(max_len(253));
    }
    if !SUBDOMAIN_RE.is_match(name) {
        errs.push(regex_error(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
            &dns1123_subdomain_fmt(),
            &["example.com"],
        ));
    }
    errs
}

fn dns1123_label(name: &str) -> Vec<String> {
    let mut errs = vec![];
    if name.len() > 63 {
        errs.push(max_len(63));
    }
    if !LABEL_RE.is_match(name) {
        if SUBDOMAIN_RE.is_match(name) {
            errs.push("must not contain dots".into());
        } else {
            errs.push(regex_error(
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
                DNS1123_LABEL,
                &["my-name", "123-abc"],
            ));
        }
    }
    errs
}

fn dns1035_label(name: &str) -> Vec<String> {
    let mut errs = vec![];
    if name.len() > 63 {
        errs.push(max_len(63));
    }
    if !DNS1035_RE.is_match(name) {
        errs.push(regex_error(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
            DNS1035_LABEL,
            &["my-name", "abc-123"],
        ));
    }
    errs
}

fn path_segment(name: &str) -> Vec<String> {
    if name == "." || name == ".." {
        return vec![format!("may not be '{name}'")];
    }
    ["/", "%"]
        .iter()
        .filter(|c| name.contains(**c))
        .map(|c| format!("may not contain '{c}'"))
        .collect()
}

/// helm lint's `validateMetadataName`: the warning for an object of
/// `kind` named `name`, if the name does not fit.
pub fn check(kind: &str, name: &str) -> Result<(), String> {
    let problems = match kind.to_lowercase().as_str() {
        "service" => dns1035_label(name),
        "namespace" => dns1123_label(name),
        "certificatesigningrequest" => vec![],
        "role" | "clusterrole" | "rolebinding" | "clusterrolebinding" => path_segment(name),
        // pods, deployments, secrets, service accounts, anything unknown
        _ => dns1123_subdomain(name),
    };
    if problems.is_empty() {
        return Ok(());
    }
    // a field.ErrorList made an aggregate: duplicates dropped, more than
    // one in brackets
    let mut errs: Vec<String> = vec![];
    for p in problems {
        let e = format!("metadata.name: Invalid value: {}: {p}", quote(name));
        if !errs.contains(&e) {
            errs.push(e);
        }
    }
    let all = if errs.len() == 1 {
        errs.remove(0)
    } else {
        format!("[{}]", errs.join(", "))
    };
    Err(format!(
        "object name does not conform to Kubernetes naming requirements: {}: {all}",
        quote(name)
    ))
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn names_by_kind() {
        assert!(check("ConfigMap", "web-1.example").is_ok());
        assert!(check("Service", "web.example").is_err());
        assert_eq!(
            check("Namespace", "a.b").unwrap_err(),
            r#"object name does not conform to Kubernetes naming requirements: "a.b": metadata.name: Invalid value: "a.b": must not contain dots"#
        );
        assert_eq!(
            check("Role", "a/b%c").unwrap_err(),
            r#"object name does not conform to Kubernetes naming requirements: "a/b%c": [metadata.name: Invalid value: "a/b%c": may not contain '/', metadata.name: Invalid value: "a/b%c": may not contain '%']"#
        );
        assert!(check("CertificateSigningRequest", "Any_Thing").is_ok());
    }
}
