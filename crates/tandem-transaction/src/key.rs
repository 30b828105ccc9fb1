//! Transaction matching (RFC 3261 §17.1.3 for clients, §17.2.3 for
//! servers, with the RFC 2543 fallback for branches without the magic
//! cookie), and CANCEL matching (§9.2).

use tandem_sip::{Message, Method};

/// The RFC 3261 magic cookie that starts every compliant branch.
pub const MAGIC_COOKIE: &str = "z9hG4bK";

/// What a server transaction is found by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum ServerKey {
    /// RFC 3261 §17.2.3: branch, sent-by and method, ACK counting as INVITE.
    Rfc3261 {
        branch: Box<str>,
        sent_by: Box<str>,
        method: Method,
    },
    /// RFC 2543 fallback: Request-URI, From tag, Call-ID, CSeq and top Via.
    /// (The To tag is left out: the ACK of a non-2xx carries the tag of the
    /// response, the INVITE none.)
    Rfc2543 {
        request_uri: Box<str>,
        from_tag: Box<str>,
        call_id: Box<str>,
        cseq: u32,
        method: Method,
        top_via: Box<str>,
    },
}

/// What a client transaction is found by: the branch it put in its Via and
/// the method in CSeq (RFC 3261 §17.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ClientKey {
    pub(crate) branch: Box<str>,
    pub(crate) method: Method,
}

/// The method a request is matched under: an ACK belongs to its INVITE.
fn match_method(m: &Method) -> Method {
    match m {
        Method::Ack => Method::Invite,
        other => other.clone(),
    }
}

impl ServerKey {
    /// The key of a request; `as_method` overrides the method (to find the
    /// INVITE a CANCEL refers to).
    pub(crate) fn of(request: &Message, as_method: Option<Method>) -> Option<ServerKey> {
        let method = match as_method {
            Some(m) => m,
            None => match_method(request.method()?),
        };
        let via = request.top_via()?;
        match via.branch() {
            Some(branch) if branch.starts_with(MAGIC_COOKIE) => {
                let mut sent_by = via.host_str.to_ascii_lowercase();
                if let Some(port) = via.port {
                    sent_by.push(':');
                    sent_by.push_str(&port.to_string());
                }
                Some(ServerKey::Rfc3261 {
                    branch: branch.into(),
                    sent_by: sent_by.into(),
                    method,
                })
            }
            _ => Some(ServerKey::Rfc2543 {
                request_uri: request.request_uri_str()?.into(),
                from_tag: request.from_tag().unwrap_or("").into(),
                call_id: request.call_id()?.into(),
                cseq: request.cseq()?.0,
                method,
                top_via: request
                    .header_str(tandem_sip::HeaderName::Via)
                    .unwrap_or("")
                    .into(),
            }),
        }
    }
}

impl ClientKey {
    /// The key a response is matched by.
    pub(crate) fn of_response(response: &Message) -> Option<ClientKey> {
        Some(ClientKey {
            branch: response.branch()?.into(),
            method: response.cseq()?.1.clone(),
        })
    }

    /// The key of a request a client transaction sends.
    pub(crate) fn of_request(request: &Message) -> Option<ClientKey> {
        Some(ClientKey {
            branch: request.branch()?.into(),
            method: request.method()?.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_sip::ParseOptions;

    fn req(text: &str) -> Message {
        Message::parse(
            text.replace('\n', "\r\n").into_bytes(),
            &ParseOptions::default(),
        )
        .unwrap()
    }

    #[test]
    fn ack_matches_its_invite_and_cancel_does_not() {
        let invite = req("INVITE sip:b@h SIP/2.0\nVia: SIP/2.0/UDP Host.Example:5060;branch=z9hG4bK1\nFrom: <sip:a@h>;tag=f\nTo: <sip:b@h>\nCall-ID: c\nCSeq: 1 INVITE\n\n");
        let ack = req("ACK sip:b@h SIP/2.0\nVia: SIP/2.0/UDP host.example:5060;branch=z9hG4bK1\nFrom: <sip:a@h>;tag=f\nTo: <sip:b@h>;tag=t\nCall-ID: c\nCSeq: 1 ACK\n\n");
        let cancel = req("CANCEL sip:b@h SIP/2.0\nVia: SIP/2.0/UDP host.example:5060;branch=z9hG4bK1\nFrom: <sip:a@h>;tag=f\nTo: <sip:b@h>\nCall-ID: c\nCSeq: 1 CANCEL\n\n");
        let k = ServerKey::of(&invite, None).unwrap();
        assert_eq!(ServerKey::of(&ack, None).unwrap(), k);
        assert_ne!(ServerKey::of(&cancel, None).unwrap(), k);
        assert_eq!(ServerKey::of(&cancel, Some(Method::Invite)).unwrap(), k);
    }

    #[test]
    fn rfc2543_fallback() {
        let invite = req("INVITE sip:b@h SIP/2.0\nVia: SIP/2.0/UDP h;branch=old1\nFrom: <sip:a@h>;tag=f\nTo: <sip:b@h>\nCall-ID: c\nCSeq: 7 INVITE\n\n");
        let ack = req("ACK sip:b@h SIP/2.0\nVia: SIP/2.0/UDP h;branch=old1\nFrom: <sip:a@h>;tag=f\nTo: <sip:b@h>;tag=x\nCall-ID: c\nCSeq: 7 ACK\n\n");
        let other = req("INVITE sip:b@h SIP/2.0\nVia: SIP/2.0/UDP h;branch=old1\nFrom: <sip:a@h>;tag=f\nTo: <sip:b@h>\nCall-ID: c\nCSeq: 8 INVITE\n\n");
        let k = ServerKey::of(&invite, None).unwrap();
        assert!(matches!(k, ServerKey::Rfc2543 { .. }));
        assert_eq!(ServerKey::of(&ack, None).unwrap(), k);
        assert_ne!(ServerKey::of(&other, None).unwrap(), k);
    }
}
