//! SIP message view and writers.
//!
//! rsip parses and writes the wire format. Incoming messages are turned into a small
//! owned view (`Request`/`Response`: method, URI, header list, body) because the
//! layers above only need header values, and because some messages rsip refuses are
//! still answerable: unknown methods must get 405, and RFC 4475's valid-but-odd
//! messages (folded lines, compact names) must be accepted. A tolerant line parser is
//! the fallback; anything neither accepts is answered 400 with the reason.

use std::fmt::Write as _;

/// Methods this UAS answers; everything else gets 405 with this list.
pub const ALLOW: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, UPDATE, NOTIFY, PRACK";
pub const ACCEPT: &str = "application/sdp, application/dtmf-relay, message/sipfrag";
pub const SUPPORTED: &str = "timer, replaces";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub uri: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub code: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Request(Request),
    Response(Response),
}

/// Why a datagram could not be used. `partial` holds what was readable so that a
/// 400 can still be addressed to the sender.
#[derive(Debug, Clone, thiserror::Error)]
#[error("malformed SIP message: {reason}")]
pub struct ParseError {
    pub reason: String,
    pub partial: Option<Box<Request>>,
    /// The status a request gets for it: 400, or 505 for another SIP version.
    pub status: u16,
}

pub trait Headers {
    fn header_list(&self) -> &[(String, String)];
    /// First value of a header, name compared case-insensitively.
    fn header(&self, name: &str) -> Option<&str> {
        self.header_list().iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    fn headers_named<'a>(&'a self, name: &'a str) -> Box<dyn Iterator<Item = &'a str> + 'a> {
        Box::new(self.header_list().iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()))
    }
    fn call_id(&self) -> Option<&str> {
        self.header("Call-ID")
    }
    /// (sequence number, method) of the CSeq header.
    fn cseq(&self) -> Option<(u32, String)> {
        let v = self.header("CSeq")?;
        let mut it = v.split_whitespace();
        let n = it.next()?.parse().ok()?;
        // Methods are case-sensitive (RFC 3261 §7.1).
        let m = it.next()?.to_string();
        if it.next().is_some() {
            return None;
        }
        Some((n, m))
    }
    /// The first Via element (a Via line may hold several, comma-separated).
    fn top_via(&self) -> Option<&str> {
        let v = self.header("Via")?;
        split_list(v).into_iter().next()
    }
    fn branch(&self) -> Option<&str> {
        param(self.top_via()?, "branch")
    }
    /// What identifies the request's server transaction: the top Via branch when
    /// it has the RFC 3261 magic cookie and more, otherwise (RFC 2543 peers, RFC
    /// 4475 inv2543/longreq/badbranch) the §17.2.3 fallback: Call-ID, CSeq
    /// number, From tag and top Via, which the ACK and CANCEL of that request share.
    fn transaction_key(&self) -> Option<String> {
        match self.branch() {
            Some(b) if b.len() > 7 && b.starts_with("z9hG4bK") => Some(b.to_string()),
            _ => {
                let (n, _) = self.cseq()?;
                Some(format!("rfc2543 {} {n} {} {}", self.call_id()?, self.from_tag().unwrap_or_default(), self.top_via()?))
            }
        }
    }
    // The tag of the From header, not a constructor.
    #[allow(clippy::wrong_self_convention)]
    fn from_tag(&self) -> Option<&str> {
        tag(self.header("From")?)
    }
    fn to_tag(&self) -> Option<&str> {
        tag(self.header("To")?)
    }
}

impl Headers for Request {
    fn header_list(&self) -> &[(String, String)] {
        &self.headers
    }
}
impl Headers for Response {
    fn header_list(&self) -> &[(String, String)] {
        &self.headers
    }
}

const KNOWN_METHODS: &[&str] =
    &["INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "INFO", "UPDATE", "NOTIFY", "PRACK", "REFER", "MESSAGE", "SUBSCRIBE", "REGISTER", "PUBLISH"];

/// Compact forms (RFC 3261 §7.3.3 and extensions) mapped to their full names.
fn canonical_name(name: &str) -> String {
    let full = match name.to_ascii_lowercase().as_str() {
        "i" | "call-id" => "Call-ID",
        "m" | "contact" => "Contact",
        "e" | "content-encoding" => "Content-Encoding",
        "l" | "content-length" => "Content-Length",
        "c" | "content-type" => "Content-Type",
        "f" | "from" => "From",
        "s" | "subject" => "Subject",
        "k" | "supported" => "Supported",
        "t" | "to" => "To",
        "v" | "via" => "Via",
        "o" | "event" => "Event",
        "r" | "refer-to" => "Refer-To",
        "b" | "referred-by" => "Referred-By",
        "x" | "session-expires" => "Session-Expires",
        "u" | "allow-events" => "Allow-Events",
        "cseq" => "CSeq",
        _ => return name.to_string(),
    };
    full.to_string()
}

/// Parses one datagram. Never panics on any input.
pub fn parse(bytes: &[u8]) -> Result<Message, ParseError> {
    let fail = |reason: &str| ParseError { reason: reason.to_string(), partial: None, status: 400 };
    // Keep-alive CRLFs (RFC 5626) and empty datagrams are not messages.
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(fail("empty datagram"));
    }
    match rsip::SipMessage::try_from(bytes) {
        Ok(m) => check(from_rsip(m)).map_err(|mut e| {
            // rsip drops the header lines after one it cannot read (RFC 4475 baddn's
            // unquoted display names) and then From looks missing: the line parser
            // still reads them, so that the 400 can be addressed.
            if e.partial.as_ref().is_none_or(|p| p.header("From").is_none()) {
                if let Ok(Message::Request(r)) = tolerant_parse(bytes) {
                    e.partial = Some(Box::new(r));
                }
            }
            e
        }),
        Err(_) => check(tolerant_parse(bytes)?),
    }
}

fn from_rsip(m: rsip::SipMessage) -> Message {
    let split = |hs: &rsip::Headers| -> Vec<(String, String)> {
        hs.iter()
            .filter_map(|h| {
                let s = h.to_string();
                let (n, v) = s.split_once(':')?;
                Some((canonical_name(n.trim()), v.trim().to_string()))
            })
            .collect()
    };
    match m {
        rsip::SipMessage::Request(r) => {
            Message::Request(Request { method: r.method.to_string(), uri: r.uri.to_string(), headers: split(&r.headers), body: r.body })
        }
        rsip::SipMessage::Response(r) => {
            let (code, reason) = match &r.status_code {
                rsip::StatusCode::Other(c, reason) => (*c, reason.clone()),
                sc => {
                    let text = sc.to_string();
                    let reason = text.split_once(' ').map(|x| x.1.to_string()).unwrap_or_default();
                    (sc.code(), reason)
                }
            };
            Message::Response(Response { code, reason, headers: split(&r.headers), body: r.body })
        }
    }
}

fn tolerant_parse(bytes: &[u8]) -> Result<Message, ParseError> {
    let fail = |reason: &str, partial: Option<Request>| ParseError { reason: reason.to_string(), partial: partial.map(Box::new), status: 400 };
    let (head, body) = match find_subslice(bytes, b"\r\n\r\n") {
        Some(i) => (&bytes[..i], bytes[i + 4..].to_vec()),
        None => match find_subslice(bytes, b"\n\n") {
            Some(i) => (&bytes[..i], bytes[i + 2..].to_vec()),
            None => (bytes, Vec::new()),
        },
    };
    let head = std::str::from_utf8(head).map_err(|_| fail("header section is not UTF-8", None))?;
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let start = lines.next().unwrap_or_default();
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with(' ') || line.starts_with('\t') {
            // Folded continuation line (RFC 3261 §7.3.1).
            match headers.last_mut() {
                Some((_, v)) => {
                    v.push(' ');
                    v.push_str(line.trim());
                }
                None => return Err(fail("continuation line before any header", None)),
            }
            continue;
        }
        if line.is_empty() {
            continue;
        }
        let Some((n, v)) = line.split_once(':') else {
            return Err(fail("header line without colon", None));
        };
        let n = n.trim();
        if n.is_empty() || !n.chars().all(is_token_char) {
            return Err(fail("invalid header name", None));
        }
        headers.push((canonical_name(n), v.trim().to_string()));
    }
    let parts: Vec<&str> = start.split(' ').collect();
    if start.starts_with("SIP/") {
        if parts.len() < 2 || parts[0] != "SIP/2.0" {
            return Err(fail("unsupported SIP version in status line", None));
        }
        let code: u16 = parts[1].parse().map_err(|_| fail("invalid status code", None))?;
        if !(100..700).contains(&code) {
            return Err(fail("status code out of range", None));
        }
        return Ok(Message::Response(Response { code, reason: parts[2..].join(" "), headers, body }));
    }
    let partial = |method: &str, uri: &str| Some(Request { method: method.to_string(), uri: uri.to_string(), headers: headers.clone(), body: body.clone() });
    if parts.len() != 3 {
        return Err(fail("malformed request line", partial("", "")));
    }
    let (method, uri, version) = (parts[0], parts[1], parts[2]);
    if method.is_empty() || !method.chars().all(is_token_char) {
        return Err(fail("invalid method token", partial("", uri)));
    }
    if !version.eq_ignore_ascii_case("SIP/2.0") {
        return Err(ParseError { status: 505, ..fail("unsupported SIP version", partial(method, uri)) });
    }
    if !uri.contains(':') {
        return Err(fail("malformed Request-URI", partial(method, uri)));
    }
    if KNOWN_METHODS.contains(&method) {
        // rsip refused a request whose method it knows: the request is malformed in
        // some way the tolerant parser does not check; only accept what it fully read.
        if uri.contains('<') || uri.contains('>') || uri.chars().any(|c| c.is_whitespace()) {
            return Err(fail("malformed Request-URI", partial(method, uri)));
        }
    }
    Ok(Message::Request(Request { method: method.to_string(), uri: uri.to_string(), headers, body }))
}

/// Checks every message must pass whatever parser read it.
fn check(msg: Message) -> Result<Message, ParseError> {
    let (headers, body_len) = match &msg {
        Message::Request(r) => (&r.headers, r.body.len()),
        Message::Response(r) => (&r.headers, r.body.len()),
    };
    let partial = match &msg {
        Message::Request(r) => Some(Box::new(r.clone())),
        Message::Response(_) => None,
    };
    let fail = |reason: &str| Err(ParseError { reason: reason.to_string(), partial: partial.clone(), status: 400 });
    let get = |n: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| v.as_str());
    for required in ["Via", "From", "To", "Call-ID", "CSeq"] {
        if get(required).is_none() {
            return fail(&format!("Missing {required} header"));
        }
    }
    let Some((_, cseq_method)) = (match &msg {
        Message::Request(r) => r.cseq(),
        Message::Response(r) => r.cseq(),
    }) else {
        return fail("Malformed CSeq header");
    };
    if let Message::Request(r) = &msg {
        if cseq_method != r.method {
            return fail("CSeq method does not match request method");
        }
        if r.uri.is_empty() || r.uri.contains(['<', '>']) || r.uri.chars().any(char::is_whitespace) {
            return fail("malformed Request-URI");
        }
        // RFC 3261 §19.1.5: a Request-URI carries no headers (RFC 4475 escruri); a
        // '?' in the user part is allowed (intmeth).
        let scheme = r.uri.split(':').next().unwrap_or_default();
        let after_user = r.uri.rsplit_once('@').map_or(r.uri.as_str(), |(_, h)| h);
        if (scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips")) && after_user.contains('?') {
            return fail("Request-URI with headers");
        }
    }
    // Headers that may appear once only (RFC 3261 §7.3.1; RFC 4475 multi01).
    for single in ["From", "To", "Call-ID", "CSeq", "Max-Forwards", "Content-Type"] {
        if headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case(single)).count() > 1 {
            return fail(&format!("Several {single} headers"));
        }
    }
    for (k, v) in headers.iter() {
        if ["From", "To", "Contact", "Via", "Record-Route", "Route"].iter().any(|h| k.eq_ignore_ascii_case(h)) && !quotes_balanced(v) {
            return fail(&format!("Unterminated quoted string in {k}"));
        }
        if ["Via", "Contact"].iter().any(|h| k.eq_ignore_ascii_case(h)) && has_empty_element(v) {
            return fail(&format!("Empty parameter or value in {k}"));
        }
    }
    if headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case("Content-Length")).count() > 1 {
        return fail("Duplicate Content-Length header");
    }
    if let Some(cl) = get("Content-Length") {
        match cl.trim().parse::<usize>() {
            Ok(n) if n > body_len => return fail("Content-Length larger than the body"),
            Ok(n) => {
                // RFC 3261 §18.3: bytes past Content-Length are discarded.
                let mut msg = msg;
                match &mut msg {
                    Message::Request(r) => r.body.truncate(n),
                    Message::Response(r) => r.body.truncate(n),
                }
                return Ok(msg);
            }
            Err(_) => return fail("Malformed Content-Length header"),
        }
    }
    Ok(msg)
}

/// An empty parameter or list element (";;", ";,", ",,", or a trailing ";" or ","),
/// outside quotes and <>: RFC 4475 badinv01.
fn has_empty_element(v: &str) -> bool {
    let (mut inside, mut escaped, mut angle) = (false, false, false);
    let mut prev_sep = true; // a value may not start with a separator either
    for c in v.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if inside => escaped = true,
            '"' => inside = !inside,
            '<' if !inside => angle = true,
            '>' if !inside => angle = false,
            ';' | ',' if !inside && !angle => {
                if prev_sep {
                    return true;
                }
                prev_sep = true;
                continue;
            }
            c if c.is_whitespace() => continue,
            _ => {}
        }
        prev_sep = false;
    }
    prev_sep
}

/// Quotes must pair up, backslash escapes inside quotes excepted (RFC 3261 §25.1).
fn quotes_balanced(v: &str) -> bool {
    let (mut inside, mut escaped) = (false, false);
    for c in v.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if inside => escaped = true,
            '"' => inside = !inside,
            _ => {}
        }
    }
    !inside
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c)
}

fn find_subslice(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

/// Splits a header value on commas that are outside quotes and angle brackets.
pub fn split_list(v: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut quoted, mut angle, mut start) = (false, false, 0);
    for (i, c) in v.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                out.push(v[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(v[start..].trim());
    out.retain(|s| !s.is_empty());
    out
}

/// Value of a `;name=value` parameter outside the `<...>` part of a header value.
pub fn param<'a>(v: &'a str, name: &str) -> Option<&'a str> {
    let params = match v.rfind('>') {
        Some(i) => &v[i + 1..],
        None => v,
    };
    params.split(';').skip(1).find_map(|p| {
        let (k, val) = p.split_once('=').unwrap_or((p, ""));
        k.trim().eq_ignore_ascii_case(name).then(|| val.trim())
    })
}

pub fn tag(v: &str) -> Option<&str> {
    param(v, "tag").filter(|t| !t.is_empty())
}

/// The URI inside a name-addr (`"Bob" <sip:b@h>;tag=1`) or an addr-spec.
pub fn uri_of(v: &str) -> &str {
    match (v.find('<'), v.find('>')) {
        (Some(a), Some(b)) if a < b => &v[a + 1..b],
        _ => v.split(';').next().unwrap_or(v).trim(),
    }
}

/// User part of a SIP URI (the dialled number for the Request-URI or To).
pub fn user_of(uri: &str) -> Option<&str> {
    let rest = uri.split_once(':')?.1;
    let (user, _) = rest.split_once('@')?;
    Some(user.split(';').next().unwrap_or(user))
}

/// host and port of a SIP URI, port defaulting to 5060.
pub fn host_port_of(uri: &str) -> Option<(String, u16)> {
    let rest = uri.split_once(':')?.1;
    let hp = rest.rsplit_once('@').map(|x| x.1).unwrap_or(rest);
    let hp = hp.split([';', '?', '>']).next()?;
    if let Some(stripped) = hp.strip_prefix('[') {
        let (h, after) = stripped.split_once(']')?;
        let port = after.strip_prefix(':').and_then(|p| p.parse().ok()).unwrap_or(5060);
        return Some((h.to_string(), port));
    }
    match hp.rsplit_once(':') {
        Some((h, p)) => Some((h.to_string(), p.parse().ok()?)),
        None => Some((hp.to_string(), 5060)),
    }
}

/// A response to `req`. Via, From, Call-ID and CSeq are copied (RFC 3261 §8.2.6.2);
/// To gets `to_tag` when it has none; Record-Route is copied on dialog-creating
/// responses (§12.1.1).
pub fn response(req: &Request, code: u16, reason: &str, to_tag: Option<&str>, extra: &[(&str, String)], body: Option<(&str, &[u8])>) -> Vec<u8> {
    use rsip::headers::{CSeq, CallId, ContentLength, ContentType, From, RecordRoute, To, UntypedHeader, Via};
    let mut h: Vec<rsip::Header> = Vec::new();
    for v in req.headers_named("Via") {
        h.push(rsip::Header::Via(Via::new(v)));
    }
    if let Some(v) = req.header("From") {
        h.push(rsip::Header::From(From::new(v)));
    }
    if let Some(v) = req.header("To") {
        let to = match (tag(v), to_tag) {
            (None, Some(t)) if code > 100 => format!("{v};tag={t}"),
            _ => v.to_string(),
        };
        h.push(rsip::Header::To(To::new(to)));
    }
    if let Some(v) = req.call_id() {
        h.push(rsip::Header::CallId(CallId::new(v)));
    }
    if let Some(v) = req.header("CSeq") {
        h.push(rsip::Header::CSeq(CSeq::new(v)));
    }
    if (req.method == "INVITE" || req.method == "UPDATE") && (101..300).contains(&code) {
        for v in req.headers_named("Record-Route") {
            h.push(rsip::Header::RecordRoute(RecordRoute::new(v)));
        }
    }
    h.push(rsip::Header::Other("Server".into(), "ivr-3230".into()));
    for (n, v) in extra {
        h.push(rsip::Header::Other((*n).to_string(), v.clone()));
    }
    let body_bytes = match body {
        Some((ct, b)) => {
            h.push(rsip::Header::ContentType(ContentType::new(ct)));
            b.to_vec()
        }
        None => Vec::new(),
    };
    h.push(rsip::Header::ContentLength(ContentLength::new(body_bytes.len().to_string())));
    let resp =
        rsip::Response { status_code: rsip::StatusCode::Other(code, reason.to_string()), version: rsip::Version::V2, headers: h.into(), body: body_bytes };
    resp.to_string().into_bytes()
}

/// Writes a request. Used for in-dialog requests and ACKs the UAS itself sends;
/// header order follows RFC 3261's recommendation (Via first).
pub fn request(method: &str, uri: &str, headers: &[(&str, String)], body: Option<(&str, &[u8])>) -> Vec<u8> {
    let mut s = String::with_capacity(512);
    let _ = write!(s, "{method} {uri} SIP/2.0\r\n");
    for (n, v) in headers {
        let _ = write!(s, "{n}: {v}\r\n");
    }
    let body = body.map(|(ct, b)| {
        let _ = write!(s, "Content-Type: {ct}\r\n");
        b
    });
    let _ = write!(s, "Content-Length: {}\r\n\r\n", body.map_or(0, |b| b.len()));
    let mut out = s.into_bytes();
    if let Some(b) = body {
        out.extend_from_slice(b);
    }
    out
}

/// Fills `received` and `rport` in a Via value for the source of the request
/// (RFC 3261 §18.2.1, RFC 3581) so responses follow the request's path back.
pub fn stamp_via(via: &str, src: std::net::SocketAddr) -> String {
    let mut out = String::with_capacity(via.len() + 32);
    let mut had_received = false;
    for (i, p) in via.split(';').enumerate() {
        if i > 0 {
            out.push(';');
        }
        let key = p.split('=').next().unwrap_or("").trim();
        if i > 0 && key.eq_ignore_ascii_case("rport") {
            let _ = write!(out, "rport={}", src.port());
        } else {
            if i > 0 && key.eq_ignore_ascii_case("received") {
                had_received = true;
            }
            out.push_str(p);
        }
    }
    if !had_received {
        let _ = write!(out, ";received={}", src.ip());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &str = "INVITE sip:3230@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1;rport\r\n\
From: \"Alice\" <sip:0601020304@127.0.0.1:5061>;tag=abc\r\n\
To: <sip:3230@127.0.0.1:5060>\r\n\
Call-ID: call-1@127.0.0.1\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:alice@127.0.0.1:5061>\r\n\
Max-Forwards: 70\r\n\
Content-Length: 0\r\n\r\n";

    #[test]
    fn parses_invite_and_reads_headers() {
        let Ok(Message::Request(r)) = parse(INVITE.as_bytes()) else { panic!("not parsed") };
        assert_eq!(r.method, "INVITE");
        assert_eq!(r.call_id(), Some("call-1@127.0.0.1"));
        assert_eq!(r.cseq(), Some((1, "INVITE".into())));
        assert_eq!(r.branch(), Some("z9hG4bK-1"));
        assert_eq!(r.from_tag(), Some("abc"));
        assert_eq!(r.to_tag(), None);
        assert_eq!(user_of(uri_of(r.header("To").unwrap_or(""))), Some("3230"));
    }

    #[test]
    fn unknown_method_is_a_request_not_an_error() {
        let raw = INVITE.replace("INVITE sip", "FOO sip").replace("1 INVITE", "1 FOO");
        let Ok(Message::Request(r)) = parse(raw.as_bytes()) else { panic!("FOO rejected") };
        assert_eq!(r.method, "FOO");
    }

    #[test]
    fn missing_call_id_is_reported_with_partial_request() {
        let raw = INVITE.replace("Call-ID: call-1@127.0.0.1\r\n", "");
        let err = parse(raw.as_bytes()).expect_err("accepted without Call-ID");
        assert!(err.reason.contains("Call-ID"), "{}", err.reason);
        assert!(err.partial.is_some());
    }

    #[test]
    fn compact_and_folded_headers_are_understood() {
        let raw = "OPTIONS sip:3230@h SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bKx\r\nf: <sip:a@h>;tag=1\r\nt: <sip:b@h>\r\ni: c1\r\nCSeq: 2\r\n  OPTIONS\r\nl: 0\r\n\r\n";
        let Ok(Message::Request(r)) = parse(raw.as_bytes()) else { panic!("not parsed") };
        assert_eq!(r.call_id(), Some("c1"));
        assert_eq!(r.cseq(), Some((2, "OPTIONS".into())));
    }

    #[test]
    fn response_copies_dialog_headers_and_adds_tag() {
        let Ok(Message::Request(r)) = parse(INVITE.as_bytes()) else { panic!() };
        let out = response(&r, 200, "OK", Some("srv1"), &[], None);
        let Ok(Message::Response(resp)) = parse(&out) else { panic!("own response unparsable") };
        assert_eq!(resp.code, 200);
        assert_eq!(resp.to_tag(), Some("srv1"));
        assert_eq!(resp.branch(), Some("z9hG4bK-1"));
    }

    #[test]
    fn uri_helpers() {
        assert_eq!(host_port_of("sip:a@10.0.0.1:5070;transport=udp"), Some(("10.0.0.1".into(), 5070)));
        assert_eq!(host_port_of("sip:example.org"), Some(("example.org".into(), 5060)));
        assert_eq!(split_list("<sip:a;lr>, <sip:b;lr>"), vec!["<sip:a;lr>", "<sip:b;lr>"]);
        // P-Asserted-Identity values: a comma inside a quoted display name does not split.
        assert_eq!(split_list("\"A, B\" <sip:a@x>, <tel:+1>"), vec!["\"A, B\" <sip:a@x>", "<tel:+1>"]);
        assert_eq!(split_list(" , "), Vec::<&str>::new());
        let src: std::net::SocketAddr = "10.1.1.1:4000".parse().unwrap();
        assert_eq!(stamp_via("SIP/2.0/UDP h;branch=z;rport", src), "SIP/2.0/UDP h;branch=z;rport=4000;received=10.1.1.1");
    }

    // Regressions found with the RFC 4475 torture messages.

    fn reason_of(text: &str) -> String {
        match parse(text.as_bytes()) {
            Err(e) => e.reason,
            Ok(_) => "parsed".into(),
        }
    }

    #[test]
    fn several_single_valued_headers_are_rejected() {
        let twice = INVITE.replace("CSeq: 1 INVITE\r\n", "CSeq: 1 INVITE\r\nCSeq: 2 INVITE\r\n");
        assert_eq!(reason_of(&twice), "Several CSeq headers");
        let two_to = INVITE.replace("To: <sip:3230@127.0.0.1:5060>\r\n", "To: <sip:3230@127.0.0.1:5060>\r\nTo: <sip:x@y>\r\n");
        assert_eq!(reason_of(&two_to), "Several To headers");
    }

    #[test]
    fn headers_in_the_request_uri_are_rejected_but_a_question_mark_in_the_user_part_is_not() {
        let esc = INVITE.replace("INVITE sip:3230@127.0.0.1:5060 SIP", "INVITE sip:3230@127.0.0.1?Route=%3Csip:e%3E SIP");
        assert_eq!(reason_of(&esc), "Request-URI with headers");
        let user = INVITE.replace("INVITE sip:3230@127.0.0.1:5060 SIP", "INVITE sip:a?b@127.0.0.1 SIP");
        assert_eq!(reason_of(&user), "parsed");
        let angle = INVITE.replace("INVITE sip:3230@127.0.0.1:5060 SIP", "INVITE <sip:3230@127.0.0.1> SIP");
        assert_ne!(reason_of(&angle), "parsed");
    }

    #[test]
    fn empty_via_or_contact_parameters_are_rejected() {
        let via = INVITE.replace(";branch=z9hG4bK-1;rport", ";;,;,,");
        assert_eq!(reason_of(&via), "Empty parameter or value in Via");
        let contact = INVITE.replace("<sip:alice@127.0.0.1:5061>", "\"Joe\" <sip:alice@127.0.0.1:5061>;;;;");
        assert_eq!(reason_of(&contact), "Empty parameter or value in Contact");
        assert!(!has_empty_element("\"a;;b\" <sip:x;;y@h>;p=1"));
    }

    #[test]
    fn headers_rsip_drops_are_read_back_so_that_the_400_is_addressed() {
        let baddn: &[u8] = include_bytes!("../../../../tests/fixtures/telephony/rfc4475/invalid/baddn.dat");
        let Err(e) = parse(baddn) else { panic!("parsed") };
        let partial = e.partial.expect("partial");
        assert!(partial.header("From").is_some_and(|f| f.contains("tag=43")));
        assert_eq!(e.status, 400);
    }

    #[test]
    fn a_branch_without_the_magic_cookie_falls_back_to_the_rfc2543_key() {
        let Ok(Message::Request(r)) = parse(INVITE.as_bytes()) else { panic!("not parsed") };
        assert_eq!(r.transaction_key().as_deref(), Some("z9hG4bK-1"));
        let old = INVITE.replace(";branch=z9hG4bK-1", "");
        let Ok(Message::Request(r)) = parse(old.as_bytes()) else { panic!("not parsed") };
        let key = r.transaction_key().expect("key");
        assert!(key.contains("call-1@127.0.0.1") && key.contains(" 1 ") && key.contains("abc"), "{key}");
        let bare = INVITE.replace(";branch=z9hG4bK-1", ";branch=z9hG4bK");
        let Ok(Message::Request(r)) = parse(bare.as_bytes()) else { panic!("not parsed") };
        assert!(r.transaction_key().is_some_and(|k| k.starts_with("rfc2543 ")));
    }
}
