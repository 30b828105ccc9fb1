//! Sample messages of realistic size, shared by benchmarks and tests.

/// An INVITE with SDP of about 850 bytes, as a softphone sends it.
pub const INVITE: &[u8] = b"INVITE sip:1001@pbx.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5060;rport;branch=z9hG4bK-524287-1---7c9a6e1f3b2d4a58\r\n\
Max-Forwards: 70\r\n\
Contact: <sip:1000@192.0.2.10:5060;transport=udp>\r\n\
To: <sip:1001@pbx.example.com>\r\n\
From: \"Alice\" <sip:1000@pbx.example.com>;tag=4f8a1c2e\r\n\
Call-ID: 7f3c9d2a1b4e6f80ZDQ1NmM3YjE4ZGE5@192.0.2.10\r\n\
CSeq: 2 INVITE\r\n\
Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE\r\n\
Content-Type: application/sdp\r\n\
Supported: replaces, norefersub, extended-refer, timer, outbound, path, X-cisco-serviceuri\r\n\
User-Agent: Zoiper rv2.10.19.6\r\n\
Allow-Events: presence, kpml, talk\r\n\
Content-Length: 290\r\n\
\r\n\
v=0\r\n\
o=Z 1700000000000 1 IN IP4 192.0.2.10\r\n\
s=Z\r\n\
c=IN IP4 192.0.2.10\r\n\
t=0 0\r\n\
m=audio 8000 RTP/AVP 8 0 9 101 3\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=rtpmap:3 GSM/8000\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n\
a=maxptime:150\r\n";

/// A REGISTER with digest credentials.
pub const REGISTER: &[u8] = b"REGISTER sip:pbx.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5060;rport;branch=z9hG4bK-524287-1---a1b2c3d4e5f60718\r\n\
Max-Forwards: 70\r\n\
Contact: <sip:1000@192.0.2.10:5060;rinstance=8e1c3a5f7b9d2e40;transport=udp>\r\n\
To: <sip:1000@pbx.example.com>\r\n\
From: <sip:1000@pbx.example.com>;tag=9b2d4f61\r\n\
Call-ID: 3a7e9c1b5d2f4a6081c3e5a7b9d1f2a4\r\n\
CSeq: 2 REGISTER\r\n\
Expires: 3600\r\n\
Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE\r\n\
Supported: replaces, norefersub, extended-refer, timer, outbound, path, X-cisco-serviceuri\r\n\
User-Agent: Zoiper rv2.10.19.6\r\n\
Authorization: Digest username=\"1000\",realm=\"pbx.example.com\",nonce=\"Y2FmZWJhYmUtMTcwMDAwMDAwMA\",uri=\"sip:pbx.example.com\",response=\"6629fae49393a05397450978507c4ef1\",cnonce=\"0a4f113b\",nc=00000001,qop=auth,algorithm=MD5\r\n\
Allow-Events: presence, kpml, talk\r\n\
Content-Length: 0\r\n\
\r\n";

/// A 200 OK to an INVITE, with two Vias and Record-Route.
pub const OK_200: &[u8] = b"SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bK-proxy-3f2a1b;received=198.51.100.1\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5060;rport=5060;branch=z9hG4bK-524287-1---7c9a6e1f3b2d4a58;received=192.0.2.10\r\n\
Record-Route: <sip:198.51.100.1;lr>\r\n\
Contact: <sip:1001@192.0.2.20:5062;transport=udp>\r\n\
To: <sip:1001@pbx.example.com>;tag=a83f9c21\r\n\
From: \"Alice\" <sip:1000@pbx.example.com>;tag=4f8a1c2e\r\n\
Call-ID: 7f3c9d2a1b4e6f80ZDQ1NmM3YjE4ZGE5@192.0.2.10\r\n\
CSeq: 2 INVITE\r\n\
Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE\r\n\
Supported: replaces, timer\r\n\
Content-Length: 0\r\n\
\r\n";
