//! URLs as they may appear in logs and metrics: scheme, host, port and
//! path only. Credentials (`user:pass@`) and the query, where update
//! tokens usually travel, are left out.

/// `url` without its credentials, query and fragment. Works on templates
/// as well as on real URLs.
pub(crate) fn redact_url(url: &str) -> String {
    let cut = |s: &str| s.find(['?', '#']).map_or(s.len(), |i| i);
    let Some((scheme, rest)) = url.split_once("://") else {
        return url[..cut(url)].to_owned();
    };
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, after) = rest.split_at(authority_len);
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let path = &after[..cut(after)];
    format!("{scheme}://{host}{path}")
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn keeps_scheme_host_port_path() {
        assert_eq!(redact_url("https://h:8443/a/b"), "https://h:8443/a/b");
        assert_eq!(redact_url("http://h"), "http://h");
    }

    #[test]
    fn drops_credentials_query_fragment() {
        assert_eq!(
            redact_url("https://user:p%40ss@dns.example/nic/update?hostname=sip&token=x#f"),
            "https://dns.example/nic/update"
        );
        assert_eq!(redact_url("http://h?x=1"), "http://h");
        assert_eq!(redact_url("http://u@h#frag"), "http://h");
        assert_eq!(redact_url("no-scheme?q"), "no-scheme");
    }
}
