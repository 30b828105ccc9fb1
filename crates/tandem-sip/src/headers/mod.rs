//! Typed views of header values, parsed on first use from the bytes the
//! header index points at (RFC 3261 §20, §25 and the extensions named in
//! each module). Each parser takes one value (one element of a list) and
//! borrows from it.

pub mod auth;
pub mod call_id;
pub mod content_type;
pub mod date;
pub mod name_addr;
pub mod numeric;
pub mod session_expires;
pub mod token_list;
pub mod via;

pub use auth::AuthHeader;
pub use content_type::MediaType;
pub use date::SipDate;
pub use name_addr::{Contact, DisplayName, NameAddr};
pub use numeric::CSeq;
pub use session_expires::{Refresher, SessionExpires};
pub use via::Via;
