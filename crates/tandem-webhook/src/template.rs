//! The URL template, Vodia ActionURL style: `{event}`, `{node}`,
//! `{epoch}`, `{at_ms}`, `{cluster}`, `{leader}` and `{ip}` are replaced by
//! the event's fields, percent-encoded so that any value is safe in a path
//! segment or a query value (RFC 3986 §2.3: only unreserved characters are
//! left as they are). `{{` and `}}` stand for literal braces.
//!
//! `{leader}` is the detail's `leader`, `{ip}` its `floating_ip`, else its
//! `address`; a missing value, like an event without an epoch, gives the
//! empty string.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::{Error, WebhookEvent};

/// Everything but RFC 3986 unreserved characters is encoded.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The placeholders a template may use, for error messages.
pub(crate) const PLACEHOLDERS: &str = "event, node, epoch, at_ms, cluster, leader, ip";

/// A field of the event that a placeholder stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Event,
    Node,
    Epoch,
    AtMs,
    Cluster,
    Leader,
    Ip,
}

impl Field {
    fn from_name(name: &str) -> Option<Field> {
        Some(match name {
            "event" => Field::Event,
            "node" => Field::Node,
            "epoch" => Field::Epoch,
            "at_ms" => Field::AtMs,
            "cluster" => Field::Cluster,
            "leader" => Field::Leader,
            "ip" => Field::Ip,
            _ => return None,
        })
    }

    fn value(self, event: &WebhookEvent) -> String {
        match self {
            Field::Event => event.event.clone(),
            Field::Node => event.node.clone(),
            Field::Epoch => event.epoch.map(|e| e.to_string()).unwrap_or_default(),
            Field::AtMs => event.at_ms.to_string(),
            Field::Cluster => event.cluster.clone(),
            Field::Leader => event.detail_text("leader").unwrap_or_default(),
            Field::Ip => event.ip().unwrap_or_default(),
        }
    }
}

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Field(Field),
}

/// A parsed URL template.
#[derive(Debug, Clone)]
pub(crate) struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Parses `url`, refusing unknown placeholders and unbalanced braces.
    pub(crate) fn parse(url: &str) -> Result<Template, Error> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = url.char_indices().peekable();
        while let Some((at, c)) = rest.next() {
            match c {
                '{' if rest.peek().map(|&(_, c)| c) == Some('{') => {
                    rest.next();
                    literal.push('{');
                }
                '}' if rest.peek().map(|&(_, c)| c) == Some('}') => {
                    rest.next();
                    literal.push('}');
                }
                '}' => {
                    return Err(Error::StrayBrace {
                        url: url.to_owned(),
                        at,
                    })
                }
                '{' => {
                    let tail = &url[at + 1..];
                    let len = tail.find('}').ok_or_else(|| Error::UnclosedPlaceholder {
                        url: url.to_owned(),
                        at,
                    })?;
                    let name = &tail[..len];
                    let field =
                        Field::from_name(name).ok_or_else(|| Error::UnknownPlaceholder {
                            url: url.to_owned(),
                            name: name.to_owned(),
                            known: PLACEHOLDERS,
                        })?;
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Field(field));
                    // Skip the name and the closing brace: a known name
                    // is ASCII, so its byte length counts its chars.
                    for _ in 0..=len {
                        rest.next();
                    }
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Template { parts })
    }

    /// The URL for `event`: literals as written, fields percent-encoded.
    pub(crate) fn render(&self, event: &WebhookEvent) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(s) => out.push_str(s),
                Part::Field(f) => out.extend(utf8_percent_encode(&f.value(event), COMPONENT)),
            }
        }
        out
    }
}

/// Percent-encodes `s` as a URL component (used for the delivery id too).
pub(crate) fn encode_component(s: &str) -> String {
    utf8_percent_encode(s, COMPONENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event() -> WebhookEvent {
        WebhookEvent {
            event: "became_leader".into(),
            node: "pbx a/1".into(),
            at_ms: 1_700_000_000_123,
            epoch: Some(42),
            detail: json!({"leader": "pbx-é", "floating_ip": "2001:db8::5", "address": "192.0.2.1"}),
            cluster: "east&west=1".into(),
        }
    }

    fn render(url: &str, e: &WebhookEvent) -> String {
        Template::parse(url).unwrap().render(e)
    }

    #[test]
    fn fills_every_placeholder_encoded() {
        let url = "http://dns.example/update?e={event}&n={node}&ep={epoch}&t={at_ms}&c={cluster}&l={leader}&ip={ip}";
        assert_eq!(
            render(url, &event()),
            "http://dns.example/update?e=became_leader&n=pbx%20a%2F1&ep=42&t=1700000000123\
             &c=east%26west%3D1&l=pbx-%C3%A9&ip=2001%3Adb8%3A%3A5"
        );
    }

    #[test]
    fn vodia_style_dns_update() {
        let mut e = event();
        e.detail = json!({"address": "192.0.2.1"});
        assert_eq!(
            render("http://dns.example/update?host=sip&ip={ip}", &e),
            "http://dns.example/update?host=sip&ip=192.0.2.1"
        );
    }

    #[test]
    fn missing_values_are_empty() {
        let mut e = event();
        e.epoch = None;
        e.detail = json!({});
        assert_eq!(
            render("http://h/?ep={epoch}&l={leader}&ip={ip}", &e),
            "http://h/?ep=&l=&ip="
        );
    }

    #[test]
    fn unreserved_characters_are_kept() {
        assert_eq!(encode_component("aZ09-._~"), "aZ09-._~");
        assert_eq!(encode_component("a b+c?d#e"), "a%20b%2Bc%3Fd%23e");
    }

    #[test]
    fn doubled_braces_are_literal() {
        let t = Template::parse("http://h/{{x}}/{node}").unwrap();
        assert_eq!(t.render(&event()), "http://h/{x}/pbx%20a%2F1");
        assert_eq!(render("http://h/plain", &event()), "http://h/plain");
    }

    #[test]
    fn literal_non_ascii_around_placeholders() {
        assert_eq!(
            render("http://h/é{node}ü", &event()),
            "http://h/épbx%20a%2F1ü"
        );
    }

    #[test]
    fn unknown_placeholder_is_named() {
        match Template::parse("http://h/?x={host}") {
            Err(Error::UnknownPlaceholder { name, .. }) => assert_eq!(name, "host"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unbalanced_braces_are_refused() {
        assert!(matches!(
            Template::parse("http://h/?x={node"),
            Err(Error::UnclosedPlaceholder { at: 12, .. })
        ));
        assert!(matches!(
            Template::parse("http://h/}"),
            Err(Error::StrayBrace { at: 9, .. })
        ));
    }
}
