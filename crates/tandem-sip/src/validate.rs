//! Full validation of a received message: the Request-URI and every header
//! tandem knows are typed once, so that a malformed message is refused with
//! the status RFC 4475 §3.1.2 names before any part of tandem acts on it.
//! Unknown headers are not looked at: they are kept byte for byte.

use crate::error::{Error, HeaderProblem};
use crate::grammar::split_commas;
use crate::header_name::HeaderName;
use crate::headers::{
    auth::AuthHeader, call_id, content_type::MediaType, date::SipDate, name_addr::Contact,
    name_addr::NameAddr, numeric, session_expires::SessionExpires, token_list, via::Via,
};
use crate::message::{parse_request_uri, Message, StartLine};
use crate::uri::Uri;

impl Message {
    /// Checks the Request-URI and the value of every known header against
    /// its grammar. A request whose Request-URI scheme is not SIP, SIPS or
    /// TEL fails with [`Error::UnsupportedUriScheme`] (416).
    pub fn validate(&self) -> Result<(), Error> {
        if let StartLine::Request { uri, .. } = &self.start {
            match parse_request_uri(self.text_str(*uri))? {
                Uri::Sip(_) | Uri::Tel(_) => {}
                Uri::Other { scheme, .. } => {
                    return Err(Error::UnsupportedUriScheme {
                        scheme: scheme.into(),
                    })
                }
            }
        }
        for h in &self.headers {
            if h.name == HeaderName::Other {
                continue;
            }
            let v = self.value_str(h)?;
            let name = h.name;
            let bad = |p: HeaderProblem| Error::header(name, p);
            match name {
                HeaderName::Via => {
                    for one in split_commas(v) {
                        Via::parse(one).map_err(bad)?;
                    }
                }
                HeaderName::From
                | HeaderName::To
                | HeaderName::ReplyTo
                | HeaderName::ReferTo
                | HeaderName::ReferredBy => {
                    NameAddr::parse(v).map_err(bad)?;
                }
                HeaderName::Contact => {
                    let mut count = 0;
                    let mut wildcard = false;
                    for one in split_commas(v) {
                        count += 1;
                        wildcard |= Contact::parse(one).map_err(bad)? == Contact::Wildcard;
                    }
                    if wildcard && count > 1 {
                        return Err(bad(HeaderProblem::Wildcard));
                    }
                }
                HeaderName::Route
                | HeaderName::RecordRoute
                | HeaderName::Path
                | HeaderName::ServiceRoute
                | HeaderName::PAssertedIdentity
                | HeaderName::PPreferredIdentity => {
                    for one in split_commas(v) {
                        NameAddr::parse_name_addr(one).map_err(bad)?;
                    }
                }
                HeaderName::CallId => call_id::check(v.as_bytes()).map_err(bad)?,
                HeaderName::CSeq => {
                    numeric::CSeq::parse(v).map_err(bad)?;
                }
                HeaderName::MaxForwards => {
                    numeric::max_forwards(v).map_err(bad)?;
                }
                HeaderName::ContentLength | HeaderName::Expires | HeaderName::MinExpires => {
                    numeric::delta_seconds(v).map_err(bad)?;
                }
                HeaderName::RetryAfter => {
                    numeric::retry_after(v).map_err(bad)?;
                }
                HeaderName::Authorization
                | HeaderName::ProxyAuthorization
                | HeaderName::WwwAuthenticate
                | HeaderName::ProxyAuthenticate => {
                    AuthHeader::parse(v).map_err(bad)?;
                }
                HeaderName::Require
                | HeaderName::ProxyRequire
                | HeaderName::Supported
                | HeaderName::Unsupported
                | HeaderName::Allow => token_list::check(v).map_err(bad)?,
                HeaderName::SessionExpires | HeaderName::MinSe => {
                    SessionExpires::parse(v).map_err(bad)?;
                }
                HeaderName::ContentType => {
                    MediaType::parse(v).map_err(bad)?;
                }
                HeaderName::Date => {
                    SipDate::parse(v).map_err(bad)?;
                }
                _ => {}
            }
        }
        Ok(())
    }
}
